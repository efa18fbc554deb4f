const $ = (id) => document.getElementById(id);
function auth() {
  return "Basic " + btoa($("name").value + ":" + $("password").value);
}
async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Authorization": auth(), "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) {
    let detail = response.status + "";
    try { const e = await response.json(); detail = e.message + " (" + e.code + ")"; } catch (_) {}
    throw new Error(detail);
  }
  return response.status === 204 ? null : response.json();
}
function time(t) { return new Date(t * 1000).toLocaleString(); }
async function refresh() {
  $("message").textContent = "";
  try {
    const codes = await call("GET", "/api/official/codes");
    const rows = $("codes");
    rows.replaceChildren();
    for (const c of codes) {
      const tr = document.createElement("tr");
      for (const v of [c.id, time(c.createdAt), time(c.expiresAt), c.status]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      const td = document.createElement("td");
      if (c.status === "pending") {
        const b = document.createElement("button");
        b.textContent = "Revoke";
        b.onclick = async () => { try { await call("POST", "/api/official/codes/" + c.id + "/revoke"); refresh(); } catch (e) { $("message").textContent = e.message; } };
        td.appendChild(b);
      }
      tr.appendChild(td);
      rows.appendChild(tr);
    }
  } catch (e) { $("message").textContent = e.message; }
}
$("issue").onclick = async () => {
  $("message").textContent = "";
  try {
    const body = { reportType: Number($("reportType").value) };
    if ($("onset").value) body.symptomOnsetDate = $("onset").value;
    if ($("testDate").value) body.testDate = $("testDate").value;
    const issued = await call("POST", "/api/official/codes", body);
    $("code").textContent = issued.code.slice(0, 4) + " " + issued.code.slice(4);
    refresh();
  } catch (e) { $("message").textContent = e.message; }
};
$("refresh").onclick = refresh;
