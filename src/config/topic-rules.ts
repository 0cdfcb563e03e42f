/**
 * What may become an MQTT topic level or topic, shared by the config check (schema.ts) and the MQTT
 * sink (src/outputs/topics.ts). Pure and dependency-free; it lives with the config because the
 * config is where every id is proven to be a safe topic level.
 *
 * Why a config-time check: an id is turned into one topic level, and a lossy mapping
 * (`vault+door` and `vault_door` both -> `vault_door`) made an OPEN on one gate's command topic
 * open the other, and two gates share one retained state topic. Ids are slugs now, so the mapping
 * is the identity for them; the collision check stays as the proof that no two ids can meet.
 */

/**
 * An id as one topic level. Camera and gate ids are slugs already (config-checked); anything else
 * has `/`, `+`, `#`, NUL and the other non-slug characters replaced by `_`, which is lossy:
 * topicLevelCollisions() is how the config proves no two ids share a level.
 */
export function topicLevel(id: string): string {
  const s = id.replace(/[^A-Za-z0-9_.-]/g, '_');
  return s.length > 0 ? s : '_';
}

/** The slug a person probably meant (for the fix in an error): 'Front Door' -> 'front-door'. */
export function suggestSlug(id: string): string {
  const s = id
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 64)
    .replace(/[-_]+$/g, '');
  return s || 'gate-1';
}

export interface LevelOwner {
  /** What it is, for the message: 'camera', 'gate'. */
  readonly kind: string;
  readonly id: string;
  /** Where its id is in the config: ['gates', 0, 'id']. */
  readonly path: readonly (string | number)[];
}

export interface LevelCollision {
  readonly level: string;
  readonly first: LevelOwner;
  readonly second: LevelOwner;
}

/**
 * Distinct ids of one kind (they share a topic subtree: `<prefix>/gate/<level>/...`) that map to
 * the same topic level. Equal ids are the duplicate-id check's business, not reported here.
 */
export function topicLevelCollisions(owners: readonly LevelOwner[]): LevelCollision[] {
  const out: LevelCollision[] = [];
  const seen = new Map<string, LevelOwner>();
  for (const o of owners) {
    const key = `${o.kind}\u0000${topicLevel(o.id)}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, o);
    else if (first.id !== o.id) out.push({ level: topicLevel(o.id), first, second: o });
  }
  return out;
}

/**
 * Why a topic (or prefix) cannot be published to, or undefined. Topics starting with `$` belong
 * to the broker (`$SYS/...`, `$share/...`): Mosquitto drops a client's publish there and, under
 * MQTT 3.1.1, still acknowledges it, so every event would vanish while the sink looked healthy.
 */
export function reservedTopicReason(topic: string): string | undefined {
  return topic.startsWith('$') ? "starts with '$': topics beginning with '$' are reserved for the broker ($SYS, $share), which drops what clients publish there" : undefined;
}

/**
 * Home Assistant unique ids are `<nodeId>_gate_<gate>_lock`, `<nodeId>_camera_<camera>_status`...
 * (ha-discovery.ts). Within one node the suffixes keep them apart; across the nodes of one Home
 * Assistant, node `n` with gate `g_gate_h` and node `n_gate_g` with gate `h` would both claim
 * `n_gate_g_gate_h_lock`. A node id without these infixes makes the first infix the end of the
 * node id, so no two nodes' ids can meet.
 */
export const UNIQUE_ID_INFIXES = ['_gate_', '_camera_'] as const;

/** Why a node id could share Home Assistant unique ids with another node's, or undefined. */
export function nodeIdReason(nodeId: string): string | undefined {
  const infix = UNIQUE_ID_INFIXES.find((i) => nodeId.includes(i));
  return infix === undefined ? undefined : `contains '${infix}', which Home Assistant unique ids use after the node id: another node's entities could get the same unique ids`;
}
