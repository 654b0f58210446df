/**
 * A real portcullis server for one plugin: the plugin registered as a third-party plugin would be (in place of a
 * built-in of the same name), the configuration given as an object, `serve` on 127.0.0.1 and an ephemeral port,
 * logs captured, and every answer to the harness's own requests kept for the secret checks.
 */
import type { FastifyInstance } from 'fastify';
import { BUILTIN_PLUGINS } from '../../core/plugins/builtins.ts';
import type { MethodInstance, MethodPlugin, Plugin } from '../../core/plugins/contracts.ts';
import { type PluginEntry, PluginRegistry } from '../../core/plugins/registry.ts';
import { type Server, startServer } from '../../core/server.ts';
import type { CredentialFixture, HarnessServer, MethodFixtures } from './types.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** One answer the server gave the harness, as text, for the secret checks. */
export interface RecordedExchange {
  readonly request: string;
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

/** What a plugin's `routes` mounted, seen from inside its own Fastify scope. */
export interface MountedRoutes {
  /** The full URL of each route registered in the method's scope, prefix included. */
  readonly urls: string[];
  /** `request` listeners on the HTTP server when `routes` was called, to tell a raw listener added by the plugin. */
  requestListenersAtMount?: number;
}

/** A started server and what it has seen. */
export interface ServedPlugin extends HarnessServer {
  readonly server: Server;
  /** Raw log lines, as written. */
  readonly logLines: string[];
  /** Answers to {@link ServedPlugin.fetch} calls (not to the fixture's own requests). */
  readonly exchanges: RecordedExchange[];
  readonly routes: MountedRoutes;
  /** The running instance of the plugin under test. */
  readonly instance: MethodInstance | undefined;
  /** A fetch for fixtures: not recorded (a login flow may legitimately carry a token in an answer). */
  readonly fixtureServer: HarnessServer;
  close(): Promise<void>;
}

/** A registry holding the built-ins and `plugin`, which replaces a built-in of its kind and name. */
export function registryWith(plugin: Plugin): PluginRegistry {
  const registry = new PluginRegistry();
  const entry: PluginEntry = {
    kind: plugin.kind,
    name: plugin.name,
    configSchema: plugin.configSchema,
    origin: `conformance harness (${plugin.name})`,
    load: async () => plugin,
  };
  let placed = false;
  for (const builtin of BUILTIN_PLUGINS) {
    if (builtin.kind === plugin.kind && builtin.name === plugin.name) {
      registry.register(entry);
      placed = true;
    } else {
      registry.register(builtin);
    }
  }
  if (!placed) registry.register(entry);
  return registry;
}

/**
 * The configuration the harness serves for a method: its block enabled under `authentication.methods`,
 * `authentication.required: true`, debug logs, 127.0.0.1 and an ephemeral port, and `fixtures.root` merged over
 * that as {@link MethodFixtures.root} says.
 */
export function methodConfig(
  plugin: MethodPlugin<object>,
  fixtures: Pick<MethodFixtures, 'config' | 'root'>,
  block: Readonly<Record<string, unknown>> = fixtures.config,
): Record<string, unknown> {
  const root = fixtures.root ?? {};
  const authentication = isObject(root.authentication) ? root.authentication : {};
  const methods = isObject(authentication.methods) ? authentication.methods : {};
  const server = isObject(root.server) ? root.server : {};
  return {
    log: { level: 'debug' },
    ...root,
    server: { host: '127.0.0.1', http_port: 0, grpc_port: 0, ...server },
    authentication: {
      required: true,
      ...authentication,
      methods: { ...methods, [plugin.name]: { enabled: true, ...block } },
    },
  };
}

/** `plugin` with its instances' `routes` watched: every route registered in the method's scope is recorded. */
function watched(plugin: MethodPlugin<object>, routes: MountedRoutes): MethodPlugin<object> {
  const watch = (instance: MethodInstance): MethodInstance => {
    const mount = instance.routes;
    if (mount === undefined) return instance;
    const routesWatched = (app: FastifyInstance) => {
      app.addHook('onRoute', (route) => {
        routes.urls.push(route.url);
      });
      routes.requestListenersAtMount = app.server.listeners('request').length;
      return mount.call(instance, app);
    };
    return replacing(instance, 'routes', routesWatched);
  };
  const create = async (...args: Parameters<MethodPlugin<object>['create']>) =>
    watch(await Reflect.apply(plugin.create, plugin, args));
  return replacing(plugin, 'create', create);
}

/**
 * `target` with one member replaced; every other member read from `target`, functions bound to it (so that a
 * class instance's private fields still work when the core calls them on the proxy).
 */
function replacing<T extends object>(target: T, member: keyof T, value: unknown): T {
  return new Proxy(target, {
    get(object, key) {
      if (key === member) return value;
      const found: unknown = Reflect.get(object, key, object);
      return typeof found === 'function' ? found.bind(object) : found;
    },
  });
}

function harnessServer(address: string, record?: RecordedExchange[]): HarnessServer {
  return {
    address,
    async fetch(path, init) {
      const response = await fetch(`${address}${path}`, init);
      if (record === undefined) return response;
      const body = await response.text();
      record.push({
        request: `${init?.method ?? 'GET'} ${path}`,
        status: response.status,
        headers: JSON.stringify([...response.headers]),
        body,
      });
      return new Response(body, { status: response.status, headers: response.headers });
    },
  };
}

/**
 * Starts `serve` with `config` and `plugin` registered; `plugin` is the method under test when it is a method.
 * The caller closes what it gets.
 */
export async function servePlugin(plugin: Plugin, config: Record<string, unknown>): Promise<ServedPlugin> {
  const logLines: string[] = [];
  const routes: MountedRoutes = { urls: [] };
  const registered = plugin.kind === 'method' ? watched(plugin, routes) : plugin;
  const server = await startServer({
    object: config,
    env: {},
    registry: registryWith(registered),
    logDestination: { write: (line: string) => logLines.push(line) },
  });
  const exchanges: RecordedExchange[] = [];
  const recorded = harnessServer(server.address, exchanges);
  return {
    ...recorded,
    server,
    logLines,
    exchanges,
    routes,
    instance: server.runtime.methods.get(plugin.name)?.instance,
    fixtureServer: harnessServer(server.address),
    close: () => server.close(),
  };
}

/** The `Authorization` header value a credential fixture stands for on `server`. */
export async function credentialFor(fixture: CredentialFixture, server: HarnessServer): Promise<string> {
  return typeof fixture === 'string' ? fixture : fixture(server);
}

/** Runs `body` with a server for the method, and closes it whatever happens. */
export async function withMethodServer<T>(
  plugin: MethodPlugin<object>,
  fixtures: MethodFixtures,
  body: (served: ServedPlugin) => Promise<T>,
): Promise<T> {
  const served = await servePlugin(plugin, methodConfig(plugin, fixtures));
  try {
    return await body(served);
  } finally {
    await served.close();
  }
}
