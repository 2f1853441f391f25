import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { listen, sendFile, sendJson } from "./http-util.js";

export interface HubDataset {
  /** Path in the repo → local file, e.g. `{ "data/part-0.parquet": fixturePath("laion/test_1000.parquet") }`. */
  files: Record<string, string>;
  /** A gated repo answers 401 (like the real hub) unless the request carries `Bearer <token>`. */
  gated?: boolean;
  /**
   * For a gated repo: whether the holder of `token` has accepted its terms (default true). When false,
   * the valid token gets 403 GatedRepo "…not in the authorized list", as the real hub answers a signed-in
   * user who has not been granted access.
   */
  accessGranted?: boolean;
}

export interface HubServerOptions {
  /** Repo id (`owner/name`) → its files. */
  datasets: Record<string, HubDataset>;
  /** The one valid access token (must start with `hf_`, as @huggingface/hub checks). Any other is rejected. */
  token?: string;
  /** Tree entries per page before a `Link: <…>; rel="next"` header (the real hub pages at 1000). */
  pageSize?: number;
  /**
   * Answer resolve URLs of LFS files with a 302 to `/cdn-lfs/<sha256>` on the same server (with
   * `X-Linked-Size` / `X-Linked-ETag`), as the real hub redirects to its CDN. Default false: files are
   * served directly.
   */
  lfsRedirect?: boolean;
}

export interface HubRequest {
  method: string;
  /** Path with query string. */
  path: string;
  range?: string;
  /** Whether an Authorization header was sent. The token itself is never recorded. */
  authorization: boolean;
}

export interface HubServer {
  /** Pass as `hubUrl` to @huggingface/hub. */
  url: string;
  /** Every request received, in arrival order. */
  requests: HubRequest[];
  /** The commit id every dataset's `main` points to (also accepted as a revision). */
  commit: string;
  /** `${url}/datasets/${repo}/resolve/main/${path}`: the URL hyparquet's asyncBufferFromUrl can range-read. */
  resolveUrl(repo: string, filePath: string, revision?: string): string;
  close(): Promise<void>;
}

interface FileEntry {
  type: "file";
  oid: string;
  size: number;
  path: string;
  lfs?: { oid: string; size: number; pointerSize: number };
  local: string;
}

interface DirEntry {
  type: "directory";
  oid: string;
  size: 0;
  path: string;
}

type Entry = FileEntry | DirEntry;

/** Files the real hub keeps in git rather than LFS; everything else (parquet, tar, images…) is an LFS file. */
const GIT_STORED = new Set([".md", ".txt", ".json", ".yaml", ".yml", ".gitattributes", ".py", ".csv"]);

async function hashFile(file: string, algo: string, prefix?: Buffer): Promise<string> {
  const hash = crypto.createHash(algo);
  if (prefix) hash.update(prefix);
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function buildEntries(files: Record<string, string>): Promise<Entry[]> {
  const entries: Entry[] = [];
  const dirs = new Set<string>();
  for (const [repoPath, local] of Object.entries(files)) {
    const clean = repoPath.replace(/^\/+/, "");
    const { size } = await fs.promises.stat(local);
    // git blob id, as the hub reports in `oid`
    const oid = await hashFile(local, "sha1", Buffer.from(`blob ${size}\0`));
    const entry: FileEntry = { type: "file", oid, size, path: clean, local };
    if (!GIT_STORED.has(path.extname(clean).toLowerCase())) {
      entry.lfs = { oid: await hashFile(local, "sha256"), size, pointerSize: 134 };
    }
    entries.push(entry);
    const parts = clean.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const dir of dirs) {
    const oid = crypto.createHash("sha1").update(`tree ${dir}`).digest("hex");
    entries.push({ type: "directory", oid, size: 0, path: dir });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function publicEntry(e: Entry, expand: boolean, commit: string): Record<string, unknown> {
  const { local: _local, ...rest } = e as FileEntry;
  const out: Record<string, unknown> = { ...rest };
  if (expand) out["lastCommit"] = { id: commit, title: "Upload dataset", date: "2024-01-01T00:00:00.000Z" };
  return out;
}

/**
 * Starts a server on 127.0.0.1 (random port) that answers the parts of the Hugging Face Hub HTTP API
 * used by @huggingface/hub's listFiles, pathsInfo, fileDownloadInfo, downloadFile, downloadFileToCacheDir,
 * datasetInfo and checkRepoAccess for dataset repos, plus resolve URLs with HEAD and HTTP Range.
 */
export async function startHubServer(params: HubServerOptions): Promise<HubServer> {
  const pageSize = params.pageSize ?? 1000;
  const commit = crypto
    .createHash("sha1")
    .update(JSON.stringify(Object.keys(params.datasets)))
    .digest("hex");
  const repos = new Map<string, { entries: Entry[]; gated: boolean; accessGranted: boolean }>();
  for (const [name, ds] of Object.entries(params.datasets)) {
    repos.set(name, {
      entries: await buildEntries(ds.files),
      gated: ds.gated ?? false,
      accessGranted: ds.accessGranted ?? true,
    });
  }
  // longest names first, so "a/b" never shadows a dataset called "a/b-c"
  const repoNames = [...repos.keys()].sort((a, b) => b.length - a.length);
  const requests: HubRequest[] = [];
  let baseUrl = "";

  const server = http.createServer((req, res) => {
    const rawPath = req.url ?? "/";
    const rec: HubRequest = {
      method: req.method ?? "GET",
      path: rawPath,
      authorization: !!req.headers.authorization,
    };
    if (req.headers.range) rec.range = req.headers.range;
    requests.push(rec);
    const url = new URL(rawPath, "http://localhost");

    const fail = (status: number, error: string, code?: string) =>
      sendJson(res, status, { error }, code ? { "X-Error-Code": code } : {});

    /** Splits `<repo>/<rest>` off a path that follows a route prefix, matching the known repo ids. */
    const splitRepo = (after: string): { repo: string; rest: string } | null => {
      for (const name of repoNames) {
        if (after === name || after.startsWith(`${name}/`))
          return { repo: name, rest: after.slice(name.length + 1) };
      }
      return null;
    };

    /** Applies the hub's auth rules; returns false (after answering) when the request is refused. */
    const authorize = (repo: string): boolean => {
      const header = req.headers.authorization;
      const bearer = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
      if (header !== undefined && (params.token === undefined ? false : bearer !== params.token)) {
        fail(401, "Invalid credentials in Authorization header");
        return false;
      }
      const { gated, accessGranted } = repos.get(repo)!;
      if (!gated) return true;
      if (params.token === undefined || bearer !== params.token) {
        fail(
          401,
          `Access to dataset ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
          "GatedRepo",
        );
        return false;
      }
      if (!accessGranted) {
        fail(
          403,
          `Access to dataset ${repo} is restricted and you are not in the authorized list. Visit ${baseUrl}/datasets/${repo} to ask for access.`,
          "GatedRepo",
        );
        return false;
      }
      return true;
    };

    const checkRevision = (rev: string): boolean => {
      if (rev === "main" || rev === commit) return true;
      fail(404, `Invalid rev id: ${rev}`, "RevisionNotFound");
      return false;
    };

    const notFoundRepo = () => fail(404, "Repository not found", "RepoNotFound");

    const handle = async () => {
      const pathname = url.pathname;
      const decoded = (s: string) => decodeURIComponent(s);
      // GET /api/datasets/<repo>/tree/<rev>[/<path>]
      // POST /api/datasets/<repo>/paths-info/<rev>
      // GET /api/datasets/<repo>[/revision/<rev>]
      if (pathname.startsWith("/api/datasets/")) {
        const split = splitRepo(decoded(pathname.slice("/api/datasets/".length)).replace(/\/+$/, ""));
        if (!split) return notFoundRepo();
        const { repo, rest } = split;
        if (!authorize(repo)) return;
        const { entries, gated } = repos.get(repo)!;
        const [route, rev = "main", ...sub] = rest.split("/");
        if (route === "tree" && (req.method === "GET" || req.method === "HEAD")) {
          if (!checkRevision(rev)) return;
          const dir = sub.join("/");
          const recursive = url.searchParams.get("recursive") === "true";
          const expand = url.searchParams.get("expand") === "true";
          if (dir && !entries.some((e) => e.type === "directory" && e.path === dir)) {
            return fail(404, `Entry not found`, "EntryNotFound");
          }
          const prefix = dir ? `${dir}/` : "";
          const listed = entries.filter(
            (e) => e.path.startsWith(prefix) && (recursive || !e.path.slice(prefix.length).includes("/")),
          );
          const limit = Math.max(1, Number(url.searchParams.get("limit") ?? pageSize) || pageSize);
          const offset = Number(
            Buffer.from(url.searchParams.get("cursor") ?? "", "base64url").toString() || 0,
          );
          const page = listed.slice(offset, offset + limit);
          const headers: Record<string, string> = {};
          if (offset + limit < listed.length) {
            const next = new URL(`${baseUrl}${url.pathname}${url.search}`);
            next.searchParams.set("cursor", Buffer.from(String(offset + limit)).toString("base64url"));
            headers["Link"] = `<${next.href}>; rel="next"`;
          }
          return sendJson(
            res,
            200,
            page.map((e) => publicEntry(e, expand, commit)),
            headers,
          );
        }
        if (route === "paths-info" && req.method === "POST") {
          if (!checkRevision(rev)) return;
          const chunks: Buffer[] = [];
          for await (const c of req) chunks.push(c as Buffer);
          const text = Buffer.concat(chunks).toString("utf8");
          let wanted: string[];
          let expand = false;
          try {
            if ((req.headers["content-type"] ?? "").includes("json")) {
              const body = JSON.parse(text) as { paths?: unknown; expand?: unknown };
              wanted = Array.isArray(body.paths) ? body.paths.map(String) : [];
              expand = body.expand === true || body.expand === "true";
            } else {
              const form = new URLSearchParams(text);
              wanted = form.getAll("paths");
              expand = form.get("expand") === "true";
            }
          } catch {
            return fail(400, "Invalid JSON body");
          }
          const found = wanted.flatMap((p) => entries.filter((e) => e.path === p.replace(/^\/+|\/+$/g, "")));
          return sendJson(
            res,
            200,
            found.map((e) => publicEntry(e, expand, commit)),
          );
        }
        if ((route === "" || route === "revision") && req.method === "GET") {
          if (route === "revision" && rev !== "HEAD" && !checkRevision(rev)) return;
          return sendJson(res, 200, {
            _id: commit.slice(0, 24),
            id: repo,
            author: repo.split("/")[0],
            sha: commit,
            private: false,
            gated: gated ? "manual" : false,
            disabled: false,
            downloads: 0,
            likes: 0,
            tags: [],
            lastModified: "2024-01-01T00:00:00.000Z",
            siblings: entries.filter((e) => e.type === "file").map((e) => ({ rfilename: e.path })),
          });
        }
        return fail(404, `Sorry, we can't find the page you are looking for.`);
      }
      // GET|HEAD /datasets/<repo>/(resolve|raw)/<rev>/<path>
      if (pathname.startsWith("/datasets/")) {
        const split = splitRepo(decoded(pathname.slice("/datasets/".length)));
        if (!split) return notFoundRepo();
        const { repo, rest } = split;
        const m = /^(resolve|raw)\/([^/]+)\/(.+)$/.exec(rest);
        if (!m || (req.method !== "GET" && req.method !== "HEAD")) {
          return fail(404, `Sorry, we can't find the page you are looking for.`);
        }
        if (!authorize(repo)) return;
        if (!checkRevision(m[2]!)) return;
        const entry = repos
          .get(repo)!
          .entries.find((e): e is FileEntry => e.type === "file" && e.path === m[3]);
        if (!entry) return fail(404, "Entry not found", "EntryNotFound");
        const etag = entry.lfs ? entry.lfs.oid : entry.oid;
        if (entry.lfs && params.lfsRedirect) {
          res.writeHead(302, {
            Location: `${baseUrl}/cdn-lfs/${entry.lfs.oid}?repo=${encodeURIComponent(repo)}&path=${encodeURIComponent(entry.path)}`,
            ETag: `"${entry.oid}"`,
            "X-Linked-ETag": `"${etag}"`,
            "X-Linked-Size": String(entry.size),
            "X-Repo-Commit": commit,
            "Content-Length": "0",
          });
          return void res.end();
        }
        return sendFile(req, res, entry.local, {
          ETag: `"${etag}"`,
          "X-Repo-Commit": commit,
          ...(entry.lfs ? { "X-Linked-ETag": `"${etag}"`, "X-Linked-Size": String(entry.size) } : {}),
        });
      }
      // GET|HEAD /cdn-lfs/<sha256>?…: the "CDN" behind lfsRedirect; like a signed CDN URL it needs no token
      const cdn = /^\/cdn-lfs\/([0-9a-f]{64})$/.exec(pathname);
      if (cdn && params.lfsRedirect && (req.method === "GET" || req.method === "HEAD")) {
        for (const { entries } of repos.values()) {
          const entry = entries.find((e): e is FileEntry => e.type === "file" && e.lfs?.oid === cdn[1]);
          if (entry) return sendFile(req, res, entry.local, { ETag: `"${cdn[1]}"` });
        }
      }
      return fail(404, `Sorry, we can't find the page you are looking for.`);
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `test hub server error: ${String(err)}` });
      else res.destroy();
    });
  });

  const listening = await listen(server);
  baseUrl = listening.url;
  return {
    url: listening.url,
    requests,
    commit,
    resolveUrl: (repo, filePath, revision = "main") =>
      `${listening.url}/datasets/${repo}/resolve/${encodeURIComponent(revision)}/${filePath}`,
    close: listening.close,
  };
}
