import { cpSync } from 'node:fs';

/**
 * Run by `npm run build` after `tsc`: the templates and assets are not TypeScript, so tsc does not copy them to
 * `dist/ui/`, where the built `render.js` looks for them beside itself.
 */
for (const folder of ['templates', 'assets']) {
  cpSync(new URL(`../../ui/${folder}/`, import.meta.url), new URL(`./${folder}/`, import.meta.url), {
    recursive: true,
  });
}
