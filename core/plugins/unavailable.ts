import { ErrorCodes, PortcullisError } from '../errors.ts';

/**
 * For a built-in plugin whose configuration is complete but whose runtime has not landed yet: enabling it stops
 * start-up with a clear message rather than running without the protection the operator asked for.
 */
export function notYetAvailable(what: string): never {
  throw new PortcullisError(
    ErrorCodes.PLUGIN_FAILED,
    `${what} is validated but not yet available in this version of portcullis; disable it to start`,
  );
}
