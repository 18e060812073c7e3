/** What an install put on disk: the packages under node_modules and their bytes. */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface InstalledPackage {
  name: string;
  version: string;
  path: string;
  /** Bytes of the package's own files (its nested node_modules not included). */
  bytes: number;
}

export interface Footprint {
  packages: number;
  bytes: number;
  /** `name@version`, sorted; a package installed twice appears twice. */
  list: string[];
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') total += dirBytes(join(dir, e.name));
    } else if (e.isFile()) {
      total += lstatSync(join(dir, e.name)).size;
    }
  }
  return total;
}

function readPackage(path: string): InstalledPackage | undefined {
  const file = join(path, 'package.json');
  if (!existsSync(file)) return undefined;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
  return { name: pkg.name ?? '?', version: pkg.version ?? '?', path, bytes: dirBytes(path) };
}

/** Every package under `nodeModules`, nested ones included (symlinks, `.bin` and dot files skipped). */
export function listInstalled(nodeModules: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  if (!existsSync(nodeModules)) return out;
  const visit = (path: string): void => {
    if (lstatSync(path).isSymbolicLink()) return;
    const p = readPackage(path);
    if (!p) return;
    out.push(p);
    out.push(...listInstalled(join(path, 'node_modules')));
  };
  for (const e of readdirSync(nodeModules, { withFileTypes: true })) {
    if (e.name.startsWith('.') || !e.isDirectory()) continue;
    if (e.name.startsWith('@')) {
      for (const s of readdirSync(join(nodeModules, e.name), { withFileTypes: true })) {
        if (s.isDirectory()) visit(join(nodeModules, e.name, s.name));
      }
    } else {
      visit(join(nodeModules, e.name));
    }
  }
  return out;
}

/** Node's lookup: `<dir>/node_modules/<name>`, then each parent, up to `top`. */
function resolveFrom(from: string, name: string, top: string): string | undefined {
  let d = from;
  for (;;) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === top || dirname(d) === d) return undefined;
    d = dirname(d);
  }
}

/**
 * The packages `names` bring, following `dependencies` and installed `optionalDependencies` the way Node
 * resolves them from `top` (peer dependencies are the application's and are not followed).
 */
export function dependencyClosure(top: string, names: readonly string[]): { packages: InstalledPackage[]; missing: string[] } {
  const seen = new Map<string, InstalledPackage>();
  const missing: string[] = [];
  const queue: Array<[string, string]> = names.map((n) => [top, n]);
  while (queue.length > 0) {
    const [from, name] = queue.shift()!;
    const path = resolveFrom(from, name, top);
    if (!path) {
      missing.push(name);
      continue;
    }
    if (seen.has(path)) continue;
    const p = readPackage(path)!;
    seen.set(path, p);
    const manifest = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push([path, dep]);
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) {
      if (resolveFrom(path, dep, top)) queue.push([path, dep]);
    }
  }
  return { packages: [...seen.values()], missing };
}

export function summarize(packages: readonly InstalledPackage[]): Footprint {
  return {
    packages: packages.length,
    bytes: packages.reduce((n, p) => n + p.bytes, 0),
    list: packages.map((p) => `${p.name}@${p.version}`).sort(),
  };
}

/** Distinct package names. */
export function namesOf(packages: readonly InstalledPackage[]): string[] {
  return [...new Set(packages.map((p) => p.name))].sort();
}

export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
