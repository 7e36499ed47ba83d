import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
export const fromRoot = (...parts: string[]): string => path.join(repoRoot, ...parts);
