// Lua scripts, run with EVAL so that each check-and-act is atomic on the server.

/**
 * KEYS[1] data · ARGV value, ttl ms, channel → stores the entry with its expiry and wakes the waiters with
 * `set:<entry>`, so they use it without reading it back (an older waiter sees a message other than `set`,
 * looks again and finds the entry).
 */
export const SET_AND_NOTIFY = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], 'set:' .. ARGV[1])
return 1`;

/**
 * KEYS[1] lock, KEYS[2] data · ARGV owner, ttl ms → {1, 0, <the stored entry or ''>, 0} when the lock was
 * taken, else {0, <lock PTTL>, <the stored entry or ''>, <1 if repaired>}: the holder's first look at the
 * store costs no round trip, and a waiter knows when to look again, whether the token changed since it
 * started waiting, and has it at hand when it did. A lock key without an expiry is never
 * ours (we always set PX): left by an operator's `SET` or an old version, it would block the fleet for
 * ever, so it gets the lock TTL here and expires like a dead holder's lock.
 */
export const ACQUIRE = `
local v = redis.pcall('GET', KEYS[2])
local h = ''
if type(v) == 'string' then h = v end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0, h, 0} end
local t = redis.call('PTTL', KEYS[1])
if t == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {0, tonumber(ARGV[2]), h, 1}
end
return {0, t, h, 0}`;

/** KEYS[1] lock · ARGV owner, ttl ms → extends the lock only while this owner holds it. */
export const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** KEYS[1] lock · ARGV owner, channel → deletes the lock only while this owner holds it (a slow holder never frees another's lock). */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0`;

/** KEYS[1] data · ARGV header → deletes the entry only while it still holds the token with that fingerprint. */
export const DELETE_IF = `
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
