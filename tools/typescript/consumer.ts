// A TypeScript program that uses the types openapi-typescript generates from the spec, as a
// TypeScript team would. `cargo xtask spec` generates `./wechat-cloudbase.ts` beside a copy of this
// file and type-checks both with `tsc --strict`; the `@ts-expect-error` lines prove that requests
// missing a required field, or with a `source_type` that is not a number, do not compile.

import type { components, paths } from "./wechat-cloudbase";

type UnshareRequest = components["schemas"]["BatchEnvRequest"];
type UnshareResponse = components["schemas"]["UnshareCloudbaseEnvResponse"];
type Unshare = paths["/componenttcb/batchunshareenv"]["post"];

export const request: UnshareRequest = {
  data: [{ env: "test-env-6gni9ity244a6ea3", appids: ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"] }],
  source_type: 1,
};

// @ts-expect-error `source_type` is required.
export const withoutSourceType: UnshareRequest = { data: [{ env: "e", appids: ["wx1"] }] };

// @ts-expect-error `appids` is required in every entry of `data`.
export const withoutAppids: UnshareRequest = { data: [{ env: "e" }], source_type: 1 };

// `source_type` is an integer: 1 CloudRun (WeChat's pages), 0 CloudBase (from a .NET SDK).
export const cloudBase: UnshareRequest = { data: [{ env: "e", appids: ["wx1"] }], source_type: 0 };

// @ts-expect-error `source_type` is a number, not a name.
export const namedKind: UnshareRequest = { data: [{ env: "e", appids: ["wx1"] }], source_type: "cloudrun" };

/** What a caller does with an answer: errcode 0 with entries in err_list is a partial failure. */
export function outcome(answer: UnshareResponse): string {
  if (answer.errcode !== 0) {
    return `error ${answer.errcode}: ${answer.errmsg ?? ""}`;
  }
  const failed = (answer.err_list ?? []).map((f) => `${f.env ?? "?"}/${f.appid ?? "?"}: ${f.errmsg ?? ""}`);
  return failed.length === 0 ? "ok" : `partial: ${failed.join(", ")}`;
}

export const body: Unshare["requestBody"]["content"]["application/json"] = request;
export const answer: Unshare["responses"][200]["content"]["application/json"] = {
  errcode: 0,
  errmsg: "ok",
  err_list: [{ env: "test-env-6gni9ity244a6ea3", appid: "wx075cf85bf347b6df", errmsg: "invalid appid" }],
};
export const summary: string = outcome(answer);

type ShareQuery = components["schemas"]["GetShareCloudbaseEnvRequest"];
type SharedEnvs = components["schemas"]["GetShareCloudbaseEnvResponse"];

export const lookup: ShareQuery = { appids: ["wx5fe6bb43205e9e07"], source_type: 1 };

// @ts-expect-error `appids` is required.
export const lookupWithoutAppids: ShareQuery = { source_type: 1 };

/** Whether `env` is shared with `appid` as an answer shows it: undefined when it does not say. */
export function isShared(answer: SharedEnvs, env: string, appid: string): boolean | undefined {
  if (answer.errcode !== 0 || (answer.err_list ?? []).some((f) => f.appid === appid)) {
    return undefined;
  }
  const relation = (answer.relation_data ?? []).find((r) => r.appid === appid);
  return relation === undefined ? undefined : (relation.env_list ?? []).includes(env);
}

export const shared: boolean | undefined = isShared(
  { errcode: 0, errmsg: "ok", relation_data: [{ appid: "wx5fe6bb43205e9e07", env_list: [] }], err_list: [] },
  "test-env-6gni9ity244a6ea3",
  "wx5fe6bb43205e9e07",
);
