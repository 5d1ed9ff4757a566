// The REST and manager APIs: JSON in, JSON out, errors as readable messages.

export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!resp.ok) {
    const err = data && data.error ? data.error : { message: `${resp.status} ${resp.statusText}` };
    const e = new Error(err.message || `${resp.status}`);
    e.code = err.code;
    e.status = resp.status;
    throw e;
  }
  return data;
}

export const enc = encodeURIComponent;
