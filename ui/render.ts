import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

/**
 * The templates and assets sit beside this module: `ui/` when run from the sources, `dist/ui/` once built (the
 * build copies them, see `core/copy-assets.ts`).
 */
const TEMPLATES = fileURLToPath(new URL('./templates/', import.meta.url));
const ASSETS = new URL('./assets/', import.meta.url);

/**
 * Eta escapes every `<%= %>` interpolation (`&`, `<`, `>`, `"`, `'`), so text from a provider, a token's name or a
 * query string cannot become markup; `<%~ %>` (raw) is used only for other templates' output.
 */
const eta = new Eta({ views: TEMPLATES, cache: true, autoEscape: true, autoTrim: [false, 'nl'] });

/** A file served under `/auth/ui/assets/`, held in memory with a digest for its cache-busting URL. */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  /** The first 16 hex digits of its SHA-256: part of its URL, so that it can be cached for a year. */
  readonly version: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  'ui.css': 'text/css; charset=utf-8',
  'ui.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/** The UI's assets, read once. */
export const assets: ReadonlyMap<string, Asset> = new Map(
  Object.entries(CONTENT_TYPES).map(([name, contentType]) => {
    const body = readFileSync(new URL(name, ASSETS));
    const version = createHash('sha256').update(body).digest('hex').slice(0, 16);
    return [name, { body, contentType, version }];
  }),
);

/** The URL of an asset, with its version: `<prefix>/auth/ui/assets/<name>?v=<digest>`. */
export function assetUrl(prefix: string, name: string): string {
  const asset = assets.get(name);
  if (asset === undefined) throw new Error(`no UI asset named ${name}`);
  return `${prefix}/auth/ui/assets/${name}?v=${asset.version}`;
}

/** Renders `ui/templates/<name>.eta` with `data` as `it`. */
export function render(name: string, data: object): string {
  return eta.render(name, data);
}
