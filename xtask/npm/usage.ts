// A TypeScript integrator's code against the AniTrack API, type-checked (never
// run) by `cargo xtask openapi typescript` against the types openapi-typescript
// generates from spec/openapi.json (copied beside them as
// target/typescript/usage.ts, so `./anitrack` is that generated file). A
// document change that breaks code like this fails the check: a renamed or
// retyped field, a response that moves, a value that becomes nullable.

import type { components, paths } from "./anitrack";

type Schemas = components["schemas"];
type Json<T> = T extends { content: { "application/json": infer Body } } ? Body : never;

// Tokens: issue one, list them, read the rate-limit headers of a refusal.

type IssueRequest = NonNullable<
  paths["/api/v1/auth/token"]["post"]["requestBody"]
>["content"]["application/json"];
type Issued = Json<paths["/api/v1/auth/token"]["post"]["responses"][201]>;
type Tokens = Json<paths["/api/v1/auth/tokens"]["get"]["responses"][200]>;
type TooMany = paths["/api/v1/auth/token"]["post"]["responses"][429];

export const credentials: IssueRequest = {
  email: "demo@anitrack.test",
  password: "anitrack-demo-password",
  device_name: "My Integration",
};

export function authorization(issued: Issued): string {
  const created: string = issued.created_at;
  return `Bearer ${issued.token} (${issued.name}, #${issued.id}, ${created})`;
}

export function tokenLines(tokens: Tokens): string[] {
  return tokens.data.map(
    (t: Schemas["TokenSummary"]) =>
      `${t.is_current ? "*" : " "} ${t.id} ${t.name} last used ${t.last_used_at ?? "never"}`,
  );
}

export function retryAfterSeconds(refusal: TooMany): number {
  const seconds: number = refusal.headers["Retry-After"];
  const body: Schemas["Error"] = refusal.content["application/json"];
  return body.message === "Too Many Attempts." ? seconds : 0;
}

// Errors: one shape, `errors` only on 422.

export function describe(error: Schemas["Error"]): string {
  const fields = Object.entries(error.errors ?? {}).map(
    ([field, messages]: [string, string[]]) => `${field}: ${messages.join(" ")}`,
  );
  return [error.message, ...fields].join("\n");
}

export const invalid: Json<paths["/api/v1/list/{entryId}"]["patch"]["responses"]["4XX"]> = {
  message: "The given data was invalid.",
  errors: { body: ["The body must be a JSON object."] },
};

// The list: read a page, add an entry, change one.

type ListQuery = NonNullable<paths["/api/v1/list"]["get"]["parameters"]["query"]>;
type Page = Json<paths["/api/v1/list"]["get"]["responses"][200]>;

export const firstPage: ListQuery = { status: "watching", limit: 100 };

export function nextQuery(page: Page): ListQuery | null {
  return page.next_cursor ? { cursor: page.next_cursor, limit: 100 } : null;
}

export function statusLabel(status: Schemas["ListStatus"]): string {
  switch (status) {
    case "watching":
      return "Watching";
    case "completed":
      return "Completed";
    case "on_hold":
      return "On hold";
    case "dropped":
      return "Dropped";
    case "plan_to_watch":
      return "Plan to watch";
    default: {
      // v1 never adds a status: a new one fails here.
      const unknown: never = status;
      return unknown;
    }
  }
}

export function summary(entry: Schemas["ListEntry"]): string {
  const total = entry.anime.episodes ?? "?";
  const score = entry.score == null ? "unscored" : `${entry.score / 10}/10`;
  return `${entry.anime.title}: ${statusLabel(entry.status)} ${entry.progress}/${total}, ${score}, rev ${entry.rev}, tags ${entry.tags.join(", ")}`;
}

export const added: Schemas["NewListEntry"] = {
  anime_id: 1,
  status: "watching",
  progress: 3,
  started_at: "2026-01-02",
  tags: ["favourite", "weekly"],
};

// A PATCH sends only what changes; `null` clears the four nullable fields,
// `[]` removes every tag.
export const cleared: Schemas["ListEntryPatch"] = {
  score: null,
  notes: null,
  started_at: null,
  completed_at: null,
  tags: [],
};

// The other fields cannot be null: the server refuses it, and so do the types.
// @ts-expect-error `status` is not nullable
export const nullStatus: Schemas["ListEntryPatch"] = { status: null };
// @ts-expect-error `progress` is not nullable
export const nullProgress: Schemas["NewListEntry"] = { anime_id: 1, status: "watching", progress: null };
// @ts-expect-error `tags` is not nullable (send `[]`)
export const nullTags: Schemas["ListEntryPatch"] = { tags: null };

// The feed: keep a copy in step, deletions included.

type Changes = Json<paths["/api/v1/list/changes"]["get"]["responses"][200]>;
type ChangesQuery = NonNullable<paths["/api/v1/list/changes"]["get"]["parameters"]["query"]>;

export function apply(
  copy: Map<number, Schemas["ListEntry"]>,
  page: Changes,
): { next: ChangesQuery; again: boolean } {
  for (const change of page.data) {
    switch (change.op) {
      case "upsert":
        if (change.entry !== null) {
          copy.set(change.entry_id, change.entry);
        }
        break;
      case "delete":
        copy.delete(change.entry_id);
        break;
      default: {
        const unknown: never = change.op;
        throw new Error(`unknown change ${String(unknown)}`);
      }
    }
  }
  return { next: { cursor: page.next_cursor }, again: page.has_more };
}

// A conditional read: the ETag of one answer is the If-None-Match of the next.

type EntryRead = paths["/api/v1/list/anime/{animeId}"]["get"];

export function ifNoneMatch(
  answer: EntryRead["responses"][200],
): NonNullable<EntryRead["parameters"]["header"]> {
  return { "If-None-Match": answer.headers.ETag };
}
