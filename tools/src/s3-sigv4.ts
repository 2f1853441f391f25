import crypto from "node:crypto";
import type http from "node:http";

/*
 * AWS Signature Version 4 check for the S3 stand-in, so a client with the wrong secret fails the way it
 * would against S3 (SignatureDoesNotMatch) instead of silently working in tests.
 */

export type AuthResult = { ok: true } | { ok: false; code: string; message: string };

const hmac = (key: crypto.BinaryLike, data: string) => crypto.createHmac("sha256", key).update(data).digest();
const sha256hex = (data: string) => crypto.createHash("sha256").update(data).digest("hex");

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper case). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(search: string, skip?: string): string {
  const pairs: [string, string][] = [];
  for (const part of search.replace(/^\?/, "").split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const k = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, "%20"));
    const v = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, "%20"));
    if (k === skip) continue;
    pairs.push([uriEncode(k), uriEncode(v)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

function signature(params: {
  secret: string;
  method: string;
  rawPath: string;
  query: string;
  headers: http.IncomingHttpHeaders;
  signedHeaders: string[];
  payloadHash: string;
  amzDate: string;
  scope: string;
}): string {
  const canonicalHeaders = params.signedHeaders
    .map((h) => {
      const v = params.headers[h];
      const value = (Array.isArray(v) ? v.join(",") : (v ?? "")).trim().replace(/\s+/g, " ");
      return `${h}:${value}\n`;
    })
    .join("");
  const canonicalRequest = [
    params.method,
    params.rawPath, // S3 signs the path as sent, without normalising or re-encoding it
    params.query,
    canonicalHeaders,
    params.signedHeaders.join(";"),
    params.payloadHash,
  ].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", params.amzDate, params.scope, sha256hex(canonicalRequest)].join(
    "\n",
  );
  const [date, region, service] = params.scope.split("/") as [string, string, string];
  let key = hmac(`AWS4${params.secret}`, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, "aws4_request");
  return crypto.createHmac("sha256", key).update(stringToSign).digest("hex");
}

/** Verifies a request signed with an Authorization header or a presigned URL (X-Amz-Signature). */
export function verifySigV4(req: http.IncomingMessage, accessKeyId: string, secret: string): AuthResult {
  const target = req.url ?? "/";
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? "" : target.slice(q);
  const auth = req.headers.authorization;
  const denied = (code: string, message: string): AuthResult => ({ ok: false, code, message });
  if (auth) {
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(
        auth,
      );
    if (!m) return denied("AuthorizationHeaderMalformed", "The authorization header is malformed.");
    const [, akid, scope, signed, provided] = m as unknown as [string, string, string, string, string];
    if (akid !== accessKeyId) {
      return denied(
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
      );
    }
    const expected = signature({
      secret,
      method: req.method ?? "GET",
      rawPath,
      query: canonicalQuery(search),
      headers: req.headers,
      signedHeaders: signed.split(";"),
      payloadHash: String(req.headers["x-amz-content-sha256"] ?? "UNSIGNED-PAYLOAD"),
      amzDate: String(req.headers["x-amz-date"] ?? ""),
      scope,
    });
    if (expected !== provided) {
      return denied(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
      );
    }
    return { ok: true };
  }
  const params = new URLSearchParams(search);
  if (params.get("X-Amz-Algorithm") === "AWS4-HMAC-SHA256") {
    const credential = params.get("X-Amz-Credential") ?? "";
    const slash = credential.indexOf("/");
    if (credential.slice(0, slash) !== accessKeyId) {
      return denied(
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
      );
    }
    const expected = signature({
      secret,
      method: req.method ?? "GET",
      rawPath,
      query: canonicalQuery(search, "X-Amz-Signature"),
      headers: req.headers,
      signedHeaders: (params.get("X-Amz-SignedHeaders") ?? "host").split(";"),
      payloadHash: "UNSIGNED-PAYLOAD",
      amzDate: params.get("X-Amz-Date") ?? "",
      scope: credential.slice(slash + 1),
    });
    if (expected !== params.get("X-Amz-Signature")) {
      return denied(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
      );
    }
    return { ok: true };
  }
  return denied("AccessDenied", "Access Denied (the S3 stand-in needs signed requests)");
}
