/** One problem with one field or variable, e.g. `{ path: "events[2].aggregateId", message: "Required" }`. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Configuration is missing or invalid; `variables` names each offending setting. */
export class ConfigError extends Error {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
  get variables(): string[] {
    return this.issues.map((i) => i.path);
  }
}

/** Turns zod issues into field issues with dotted/indexed paths. */
export function toFieldIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  prefix = '',
): FieldIssue[] {
  return issues.map((issue) => {
    let path = prefix;
    for (const key of issue.path) {
      path += typeof key === 'number' ? `[${key}]` : path === '' ? String(key) : `.${String(key)}`;
    }
    return { path: path === '' ? '(root)' : path, message: issue.message };
  });
}
