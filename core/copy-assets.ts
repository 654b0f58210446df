import { cpSync } from 'node:fs';

/**
 * Run by `npm run build` after `tsc`: files the code reads at run time that are not TypeScript, so tsc does not put
 * them in `dist/`, where the built modules look for them beside themselves — the web UI's templates and assets, and
 * the gRPC services' `.proto` files.
 */
const FOLDERS = ['ui/templates', 'ui/assets', 'core/grpc/proto'];

for (const folder of FOLDERS) {
  cpSync(new URL(`../../${folder}/`, import.meta.url), new URL(`../${folder}/`, import.meta.url), {
    recursive: true,
  });
}
