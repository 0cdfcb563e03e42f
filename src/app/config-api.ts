/**
 * The config file through the API (admin only): read it (secrets redacted) with its version as
 * the ETag, add / replace / remove a camera or a gate with If-Match, list the kept versions with
 * their diffs, roll back. The YAML file stays the source of truth (src/config/edit.ts): each
 * accepted change is written to it, announced as a `config.changed` audit event naming the actor,
 * and applied to the running service the way a hot reload of the file is (service.update).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readJson, sendJson, type Route } from '../api/router.ts';
import {
  createConfigEditor,
  isConfigEditError,
  redactConfigText,
  type ConfigChange,
  type ConfigEditor,
  type ConfigListSection,
  type EditResult,
} from '../config/edit.ts';
import { formatConfigPath, isConfigError, type Config } from '../config/index.ts';
import type { EventBus } from '../events/index.ts';
import type { Logger } from '../log.ts';

export interface ConfigApiParts {
  /** The file the service runs from; without one (a config built in code) the routes are not offered. */
  readonly configFile?: string | undefined;
  /** Apply a validated config to the running service (service.update); resolves to the sections that need a restart. */
  readonly applyConfig?: ((next: Config) => Promise<readonly string[]>) | undefined;
  readonly bus: EventBus;
  readonly log: Logger;
}

/** `"v"`, `W/"v"` or `v`; `*` matches whatever is current (RFC 9110). Undefined without the header. */
export function ifMatchVersion(header: string | string[] | undefined, current: string): string | undefined {
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (raw === undefined || raw.trim() === '') return undefined;
  const tags = raw.split(',').map((s) => s.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'));
  if (tags.includes('*') || tags.includes(current)) return current;
  return tags[0];
}

const etag = (version: string): string => `"${version}"`;

/** A refused edit as the client gets it: 409 / 404 / 400 for the edit, 422 with every problem for an invalid result. */
function sendEditError(res: ServerResponse, e: unknown): boolean {
  if (isConfigEditError(e)) {
    const status = e.code === 'CONFIG_CONFLICT' ? 409 : e.code === 'CONFIG_EDIT_NOT_FOUND' ? 404 : 400;
    sendJson(res, status, { error: e.message, code: e.code, ...(e.hint ? { hint: e.hint } : {}), ...(e.current ? { current: e.current } : {}) }, e.current ? { etag: etag(e.current) } : {});
    return true;
  }
  if (isConfigError(e)) {
    // The same problems, paths and fixes as `facegate config check` (already redacted).
    const issues = e.issues.map((i) => ({ path: formatConfigPath(i.path), message: i.message, ...(i.hint ? { hint: i.hint } : {}), ...(i.line !== undefined ? { line: i.line, col: i.col } : {}) }));
    sendJson(res, 422, { error: `the change would make the config invalid: ${issues.length === 1 ? '1 problem' : `${issues.length} problems`}`, code: e.code, issues });
    return true;
  }
  return false;
}

export function configApiRoutes(p: ConfigApiParts): Route[] {
  if (p.configFile === undefined) return [];
  const editor: ConfigEditor = createConfigEditor(p.configFile);
  const { log } = p;

  /** Announce and apply an accepted change; answers with the new version. */
  const accepted = async (res: ServerResponse, r: EditResult, actor: string): Promise<void> => {
    let restart: readonly string[] = [];
    let applied = true;
    if (r.changed) {
      p.bus.publish({ type: 'config.changed', timeMs: Date.now(), data: { actor, version: r.version, previous: r.previous, paths: r.paths.slice(0, 1000).map((x) => x.slice(0, 512)), ...(r.rollback ? { rollback: true } : {}) } });
      log.info({ actor, version: r.version, previous: r.previous, paths: r.paths, rollback: r.rollback }, 'config changed through the API');
      try {
        restart = (await p.applyConfig?.(r.config)) ?? [];
      } catch (e) {
        applied = false;
        log.error({ err: e, version: r.version }, 'the config was written but applying it failed');
      }
    }
    sendJson(res, 200, { version: r.version, previous: r.previous, changed: r.changed, paths: r.paths, applied, restart }, { etag: etag(r.version) });
  };

  const edit = async (req: IncomingMessage, res: ServerResponse, change: (body: Record<string, unknown> | undefined) => ConfigChange, actor: string, body: boolean, maxBytes: number): Promise<void> => {
    const current = editor.current().version;
    const ifMatch = ifMatchVersion(req.headers['if-match'], current);
    if (ifMatch === undefined) {
      throw new HttpError(428, 'If-Match is required: send the version from GET /v1/config (its ETag)', { etag: etag(current) }, { code: 'CONFIG_VERSION_REQUIRED', hint: 'GET /v1/config, then repeat the request with If-Match: "<version>"' });
    }
    const doc = body ? await readJson(req, maxBytes) : undefined;
    let r: EditResult;
    try {
      r = editor.edit(change(doc), { ifMatch, actor });
    } catch (e) {
      if (sendEditError(res, e)) return;
      throw e;
    }
    await accepted(res, r, actor);
  };

  const listRoutes = (section: ConfigListSection): Route[] => [
    {
      method: 'PUT',
      pattern: ['config', section, ':id'],
      role: 'admin',
      handle: (c, { id }, who) => edit(c.req, c.res, (value) => ({ op: 'put', section, id, value: value ?? {} }), who.id, true, c.maxMessageBytes),
    },
    {
      method: 'DELETE',
      pattern: ['config', section, ':id'],
      role: 'admin',
      handle: (c, { id }, who) => edit(c.req, c.res, () => ({ op: 'remove', section, id }), who.id, false, c.maxMessageBytes),
    },
  ];

  return [
    {
      method: 'GET',
      pattern: ['config'],
      role: 'admin',
      handle: ({ res }) => {
        const { text, version } = editor.current();
        const body = redactConfigText(text);
        res.writeHead(200, { 'content-type': 'application/yaml; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', etag: etag(version) });
        res.end(body);
      },
    },
    ...listRoutes('cameras'),
    ...listRoutes('gates'),
    {
      method: 'GET',
      pattern: ['config', 'history'],
      role: 'admin',
      handle: ({ res }) => sendJson(res, 200, { current: editor.current().version, versions: editor.history() }),
    },
    {
      method: 'GET',
      pattern: ['config', 'history', ':version'],
      role: 'admin',
      handle: ({ res }, { version }) => {
        try {
          // Both versions through the same redaction as GET /v1/config: the diff repeats their lines.
          const d = editor.diff(version, redactConfigText);
          sendJson(res, 200, { ...d.entry, diff: d.diff, previousKept: d.previousKept });
        } catch (e) {
          if (sendEditError(res, e)) return;
          throw e;
        }
      },
    },
    {
      method: 'POST',
      pattern: ['config', 'rollback'],
      role: 'admin',
      handle: async ({ req, res, maxMessageBytes }, _params, who) => {
        const body = await readJson(req, maxMessageBytes);
        if (typeof body.version !== 'string' || body.version.length === 0) throw new HttpError(400, 'version must be a string', {}, { code: 'BAD_REQUEST', field: 'version', in: 'body', hint: 'a version from GET /v1/config/history' });
        const ifMatch = ifMatchVersion(req.headers['if-match'], editor.current().version);
        let r: EditResult;
        try {
          r = editor.rollback(body.version, { actor: who.id, ifMatch });
        } catch (e) {
          if (sendEditError(res, e)) return;
          throw e;
        }
        await accepted(res, r, who.id);
      },
    },
  ];
}
