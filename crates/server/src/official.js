// The officials' page: every visible string comes from TEXT, in Vietnamese (the default) or
// English (when the browser prefers it, or when chosen with the switch, remembered in
// localStorage). Refusals from the API are shown by their stable code, translated.
const TEXT = {
  vi: {
    title: "Bluezone — cấp mã xác minh",
    language: "Ngôn ngữ",
    heading: "Cấp mã xác minh",
    intro: "Dành cho người có kết quả dương tính. Hãy trao mã này cho người đó; mã chỉ dùng được một lần, trong vòng một giờ, và chỉ cho phép tải lên các khóa của chính điện thoại họ sau khi họ đồng ý.",
    official: "Cán bộ",
    name: "Tên đăng nhập",
    password: "Mật khẩu",
    case: "Ca dương tính",
    result: "Kết quả",
    confirmed: "Xét nghiệm khẳng định",
    clinical: "Chẩn đoán lâm sàng",
    onset: "Ngày khởi phát triệu chứng (không bắt buộc)",
    testDate: "Ngày xét nghiệm (không bắt buộc)",
    issue: "Cấp mã",
    code: "Mã xác minh:",
    yourCodes: "Các mã đã cấp",
    refresh: "Làm mới",
    issued: "Thời gian cấp",
    expires: "Hết hạn",
    status: "Trạng thái",
    revoke: "Thu hồi",
    pending: "Chưa sử dụng",
    used: "Đã sử dụng",
    expired: "Đã hết hạn",
    revoked: "Đã thu hồi",
    activity: "Hoạt động của cơ quan y tế (14 ngày qua)",
    activityNote: "Số liệu tổng hợp theo ngày (UTC); không chứa mã hay dữ liệu cá nhân.",
    day: "Ngày",
    codesIssued: "Số mã đã cấp",
    codesUsed: "Số mã đã sử dụng",
    uploads: "Số lượt tải lên được chấp nhận",
    files: "Số tệp đã công bố",
    riskConfig: "Cấu hình đánh giá nguy cơ hiện hành",
    riskShown: (c) => "Số " + c.sequence + ", ban hành " + time(c.issued_at) +
      (c.model === "cwa"
        ? " · mô hình Corona-Warn-App · nguy cơ cao từ " + cwaHighMinutes(c.parameters) +
          " phút chuẩn hóa trong một ngày · khoảng suy hao " + cwaRanges(c.parameters) + " dB"
        : " · cảnh báo từ " + c.parameters.notify_weighted_minutes + " phút có trọng số trong một ngày" +
          " · ngưỡng suy hao " + c.parameters.attenuation_thresholds_db.join("/") + " dB") +
      (c.note ? " · " + c.note : ""),
    refused: "Yêu cầu bị từ chối",
    network: "Không kết nối được với máy chủ. Vui lòng thử lại.",
    errors: {
      unauthorized: "Tên đăng nhập hoặc mật khẩu không đúng.",
      too_many_attempts: "Quá nhiều lần thử. Vui lòng đợi một lúc rồi thử lại.",
      invalid_date: "Ngày không hợp lệ.",
      invalid_report_type: "Loại kết quả không hợp lệ.",
      invalid_official: "Tài khoản cán bộ không hợp lệ.",
      code_not_found: "Không tìm thấy mã này trong số các mã đã cấp.",
      bad_request: "Yêu cầu không hợp lệ.",
      bad_path: "Địa chỉ yêu cầu không hợp lệ.",
      not_found: "Không tìm thấy.",
      method_not_allowed: "Thao tác không được phép.",
      body_too_large: "Yêu cầu quá lớn.",
      unsupported_media_type: "Định dạng yêu cầu không được hỗ trợ.",
      request_timeout: "Máy chủ phản hồi quá lâu. Vui lòng thử lại.",
      server_busy: "Máy chủ đang bận. Vui lòng thử lại sau vài giây.",
      internal_error: "Lỗi máy chủ. Vui lòng thử lại sau.",
    },
  },
  en: {
    title: "Bluezone — issue a verification code",
    language: "Language",
    heading: "Issue a verification code",
    intro: "For a person who tested positive. Give them the code; it works once, for one hour, and only lets them upload their own phone's keys after they agree.",
    official: "Official",
    name: "Name",
    password: "Password",
    case: "Positive case",
    result: "Result",
    confirmed: "Confirmed test",
    clinical: "Clinical diagnosis",
    onset: "Symptom onset (optional)",
    testDate: "Test date (optional)",
    issue: "Issue code",
    code: "Verification code:",
    yourCodes: "Codes you issued",
    refresh: "Refresh",
    issued: "Issued",
    expires: "Expires",
    status: "Status",
    revoke: "Revoke",
    pending: "Pending",
    used: "Used",
    expired: "Expired",
    revoked: "Revoked",
    activity: "The authority's activity (last 14 days)",
    activityNote: "Daily totals (UTC); no codes and no personal data.",
    day: "Day",
    codesIssued: "Codes issued",
    codesUsed: "Codes used",
    uploads: "Uploads accepted",
    files: "Files published",
    riskConfig: "Current risk configuration",
    riskShown: (c) => "No. " + c.sequence + ", issued " + time(c.issued_at) +
      (c.model === "cwa"
        ? " · Corona-Warn-App model · high risk from " + cwaHighMinutes(c.parameters) +
          " normalized minutes in a day · attenuation ranges " + cwaRanges(c.parameters) + " dB"
        : " · notify from " + c.parameters.notify_weighted_minutes + " weighted minutes in a day" +
          " · attenuation thresholds " + c.parameters.attenuation_thresholds_db.join("/") + " dB") +
      (c.note ? " · " + c.note : ""),
    refused: "Request refused",
    network: "Could not reach the server. Please try again.",
    errors: {
      unauthorized: "Wrong name or password.",
      too_many_attempts: "Too many attempts. Please wait a while and try again.",
      invalid_date: "The date is not valid.",
      invalid_report_type: "The result type is not valid.",
      invalid_official: "The official's account is not valid.",
      code_not_found: "No such code among the codes you issued.",
      bad_request: "The request is not valid.",
      bad_path: "The request's address is not valid.",
      not_found: "Not found.",
      method_not_allowed: "That action is not allowed.",
      body_too_large: "The request is too large.",
      unsupported_media_type: "The request's format is not supported.",
      request_timeout: "The server took too long. Please try again.",
      server_busy: "The server is busy. Please try again in a few seconds.",
      internal_error: "Server error. Please try again later.",
    },
  },
};
const $ = (id) => document.getElementById(id);
function chooseLanguage() {
  const saved = localStorage.getItem("language");
  if (saved in TEXT) return saved;
  for (const l of navigator.languages || []) {
    const base = l.toLowerCase().split("-")[0];
    if (base in TEXT) return base;
  }
  return "vi";
}
let lang = chooseLanguage();
const t = (key) => TEXT[lang][key];
// A refusal from the API (or the network), kept by code so it can be shown in either language.
class Refusal extends Error {
  constructor(code) { super(code); this.code = code; }
}
function explain(error) {
  const code = error instanceof Refusal ? error.code : "network";
  if (code === "network") return t("network");
  return TEXT[lang].errors[code] || t("refused") + " (" + code + ")";
}
let shownError = null;
function showError(error) {
  shownError = error;
  $("message").textContent = error ? explain(error) : "";
}
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
    let code = "http_" + response.status;
    try { code = (await response.json()).code || code; } catch (_) {}
    throw new Refusal(code);
  }
  return response.status === 204 ? null : response.json();
}
// A CWA configuration (docs/PROTOCOL.md): the lowest normalized time of a day mapped to high
// risk, and the weighted minimum-attenuation ranges written as their bounds, e.g. "0–55/55–63".
function cwaHighMinutes(p) {
  const high = p.normalizedTimePerDayToRiskLevelMapping.filter((m) => m.riskLevel === 2);
  return high.length ? Math.min(...high.map((m) => m.normalizedTimeRange.min)) : "—";
}
function cwaRanges(p) {
  return p.minutesAtAttenuationWeights
    .map((w) => w.attenuationRange.min + "–" + w.attenuationRange.max).join("/");
}
function time(seconds) { return new Date(seconds * 1000).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB"); }
function cells(tr, values) {
  for (const v of values) {
    const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
  }
}
let codes = [];
let activity = [];
let risk = null;
function renderCodes() {
  const rows = $("codes");
  rows.replaceChildren();
  for (const c of codes) {
    const tr = document.createElement("tr");
    tr.dataset.status = c.status;
    cells(tr, [c.id, time(c.createdAt), time(c.expiresAt), t(c.status) || c.status]);
    const td = document.createElement("td");
    if (c.status === "pending") {
      const b = document.createElement("button");
      b.textContent = t("revoke");
      b.onclick = async () => {
        try { await call("POST", "/api/official/codes/" + c.id + "/revoke"); refresh(); } catch (e) { showError(e); }
      };
      td.appendChild(b);
    }
    tr.appendChild(td);
    rows.appendChild(tr);
  }
}
function renderActivity() {
  const rows = $("activity");
  rows.replaceChildren();
  for (const d of activity) {
    const tr = document.createElement("tr");
    cells(tr, [d.day, d.codesIssued, d.codesUsed, d.uploadsAccepted, d.filesPublished]);
    rows.appendChild(tr);
  }
}
function renderRisk() {
  $("riskConfig").textContent = risk ? t("riskShown")(risk) : "—";
}
function render() {
  document.documentElement.lang = lang;
  document.title = t("title");
  $("lang").value = lang;
  for (const e of document.querySelectorAll("[data-text]")) e.textContent = t(e.dataset.text);
  if (shownError) showError(shownError);
  renderCodes();
  renderActivity();
  renderRisk();
}
async function refresh() {
  showError(null);
  try {
    codes = await call("GET", "/api/official/codes");
    renderCodes();
    activity = await call("GET", "/api/official/activity");
    renderActivity();
    risk = await call("GET", "/api/official/risk-config");
    renderRisk();
  } catch (e) { showError(e); }
}
$("issue").onclick = async () => {
  showError(null);
  try {
    const body = { reportType: Number($("reportType").value) };
    if ($("onset").value) body.symptomOnsetDate = $("onset").value;
    if ($("testDate").value) body.testDate = $("testDate").value;
    const issued = await call("POST", "/api/official/codes", body);
    $("code").textContent = issued.code.slice(0, 4) + " " + issued.code.slice(4);
    refresh();
  } catch (e) { showError(e); }
};
$("refresh").onclick = refresh;
$("lang").onchange = () => {
  lang = $("lang").value;
  localStorage.setItem("language", lang);
  render();
};
render();
