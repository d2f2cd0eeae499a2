// A TypeScript program that calls the sandbox with the types openapi-typescript generates from the
// spec, as a TypeScript team would. `cargo xtask spec` generates `./wechat-cloudbase.ts` beside a copy
// of this file, compiles both with `tsc --strict` and runs `node consumer.js BASE_URL` against a
// standalone sandbox: share a pair, confirm it at the URL the answer gives, see it listed, unshare
// it, see it gone. Any other outcome throws, and node exits non-zero. The `@ts-expect-error` lines
// prove that requests missing a required field, or with a `source_type` that is not a number, do
// not compile.

import type { paths } from "./wechat-cloudbase";

// Node's `process`, declared for the one field used rather than through @types/node.
declare const process: { argv: string[] };

type Post<P extends keyof paths> = paths[P]["post"];
type Body<P extends keyof paths> = Post<P>["requestBody"]["content"]["application/json"];
type Answer<P extends keyof paths> = Post<P>["responses"][200]["content"]["application/json"];

type Share = Body<"/componenttcb/batchshareenv">;
type Lookup = Body<"/componenttcb/batchgetenvid">;

// @ts-expect-error `source_type` is required.
export const withoutSourceType: Share = { data: [{ env: "e", appids: ["wx1"] }] };
// @ts-expect-error `appids` is required in every entry of `data`.
export const withoutAppids: Share = { data: [{ env: "e" }], source_type: 1 };
// @ts-expect-error `source_type` is a number, not a name.
export const namedKind: Share = { data: [{ env: "e", appids: ["wx1"] }], source_type: "cloudrun" };
// @ts-expect-error `appids` is required.
export const lookupWithoutAppids: Lookup = { source_type: 1 };

const ENV = "test-env-6gni9ity244a6ea3";
const APPID = "wx5fe6bb43205e9e07";
// The standalone sandbox always accepts this token; it is not a secret.
const TOKEN = "sandbox-component-access-token";

/** POSTs `body` to `path`, the token in the `access_token` query parameter (the spec's apiKey scheme). */
async function post<P extends keyof paths>(base: string, path: P, body: Body<P>): Promise<Answer<P>> {
  const url = new URL(path, base);
  url.searchParams.set("access_token", TOKEN);
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== 200) {
    throw new Error(`${path}: HTTP ${response.status}`);
  }
  return (await response.json()) as Answer<P>;
}

function expect(ok: boolean, step: string, answer: unknown): void {
  if (!ok) {
    throw new Error(`${step}: unexpected answer ${JSON.stringify(answer)}`);
  }
}

/** The envs the lookup lists for APPID; the answer must name APPID and report no error. */
async function envsOfAppid(base: string): Promise<string[]> {
  const answer = await post(base, "/componenttcb/batchgetenvid", { appids: [APPID], source_type: 1 });
  const relation = answer.relation_data?.find((r) => r.appid === APPID);
  expect(answer.errcode === 0 && !answer.err_list?.length && relation !== undefined, "getShareCloudbaseEnv", answer);
  return relation?.env_list ?? [];
}

async function lifecycle(base: string): Promise<void> {
  const pair: Share = { data: [{ env: ENV, appids: [APPID] }], source_type: 1 };

  const shared = await post(base, "/componenttcb/batchshareenv", pair);
  const confirmation = shared.msg_info_list?.find((m) => m.appid === APPID)?.url;
  expect(shared.errcode === 0 && !shared.err_list?.length && confirmation !== undefined, "shareCloudbaseEnv", shared);
  // What the mini program's admin does: open the URL. The share takes effect then.
  const confirmed = await fetch(confirmation ?? "");
  expect(confirmed.ok, "confirmation", confirmed.status);
  expect((await envsOfAppid(base)).includes(ENV), "getShareCloudbaseEnv after the share", ENV);

  const unshared = await post(base, "/componenttcb/batchunshareenv", pair);
  expect(unshared.errcode === 0 && !unshared.err_list?.length, "unshareCloudbaseEnv", unshared);
  expect(!(await envsOfAppid(base)).includes(ENV), "getShareCloudbaseEnv after the unshare", ENV);
}

await lifecycle(process.argv[2] ?? "");
console.log("typescript: shared, confirmed, listed, unshared, no longer listed");
