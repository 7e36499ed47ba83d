export * from './group';
export * from './limits';
export * from './names';
export * from './rules';
export * from './defaults';
export * from './crd';
export type * from './types';
export type { JsonSchema, CelRule } from './schema-types';
