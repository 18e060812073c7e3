export { instrumentImsToken, INSTRUMENTATION_NAME } from './instrument';
export type { InstrumentImsTokenOptions, ImsTokenInstrumentation } from './instrument';
export { METRIC } from './metrics';
export { ATTR } from './attributes';
