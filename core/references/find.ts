import { isRecord, type Path } from '../config/tree.ts';
import { type ParsedReference, parseSecretReference } from './parse.ts';

/** A place in the configuration whose whole value is a secret reference. */
export interface ReferenceSite {
  readonly path: Path;
  readonly parsed: ParsedReference;
}

/** Every string in the tree written as `${secret:...}`, in tree order. */
export function findSecretReferences(tree: unknown): ReferenceSite[] {
  const sites: ReferenceSite[] = [];
  const visit = (value: unknown, path: Path): void => {
    if (typeof value === 'string') {
      const parsed = parseSecretReference(value);
      if (parsed !== undefined) sites.push({ path, parsed });
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        visit(item, [...path, i]);
      });
    } else if (isRecord(value)) {
      for (const [key, child] of Object.entries(value)) visit(child, [...path, key]);
    }
  };
  visit(tree, []);
  return sites;
}
