// The managers' notices page (GET /notices): list, compose, preview,
// publish, edit and withdraw a site's notices through the API
// (docs/API.md), with the login session's cookie and CSRF token.
"use strict";
(() => {
  // Every word the page shows, in one table per language: a translation
  // is a new table (and a choice of it), nothing else.
  const WORDS = {
    en: {
      locale: "en-GB", // how dates are written (Intl); fr-FR for French
      heading: "Palier: notices", navNotices: "Notices", navReports: "Monthly reports", navDashboard: "Operators' dashboard",
      logout: "Log out", site: "Site", listHeading: "The site's notices", listEmpty: "No notice on this site.",
      colTitle: "Title", colStatus: "Status", colLanguages: "Languages", colCategory: "Category", colPriority: "Priority",
      colValidity: "Validity", colSchedule: "When", colShown: "Shown (last 7 days)", colActions: "Actions",
      composeNew: "Write a notice", composeEdit: "Edit the notice", french: "French (required)", english: "English", italian: "Italian",
      title: "Title", body: "Text", missing: "not written: the screen shows the French", category: "Category", priority: "Priority",
      cat_general: "General", cat_works: "Works", cat_water: "Water", cat_assembly: "Assembly", cat_cleaning: "Cleaning",
      prio_normal: "Normal", prio_low: "Low", prio_urgent: "Urgent",
      validity: "Validity", validFrom: "Shown from", validUntil: "Until (empty: until withdrawn)",
      zoneNote: "Times are in the screens' time zone: ", recurrence: "Recurrence", days: "Days",
      everyDay: "Every day", weekdays: "Weekdays", hours: "Hours of the day",
      hoursNote: "Up to 4 windows; none: all day.", addWindow: "Add hours", removeWindow: "Remove", from: "From", to: "To",
      pictures: "Pictures", addPicture: "Add a picture", pictureNote: "Up to {n} pictures; {types}; at most {size} each.",
      removePicture: "Remove", uploading: "Uploading {name}…",
      badType: "{name} is a {type} file: the screens show {types}.", tooBig: "{name} is {size}: at most {max} per file.",
      tooMany: "At most {n} pictures per notice.",
      publish: "Publish", save: "Save changes", cancelEdit: "Cancel", preview: "Preview", previewHeading: "Preview",
      published: "Published.", saved: "Changes saved.", withdrawn: "Withdrawn.", sending: "Sending…",
      edit: "Edit", withdraw: "Withdraw", keep: "Keep it", confirmWithdraw: "Withdraw “{title}”? The screens stop showing it.",
      statusNow: "shown now", statusScheduled: "scheduled", statusEnded: "ended", nextShown: "next shown {t}",
      present: "present: {l}", absent: "missing: {l}", always: "every day, all day", allDay: "all day",
      untilWithdrawn: "until withdrawn", fromTo: "{from} → {until}", fromOnly: "from {from}, {until}",
      everyDayWords: "every day", weekdaysWords: "weekdays", weekendWords: "weekends",
      notShown: "not shown", shownTotal: "{d} in all, {n} times", shownIn: "{cabin}: {langs}",
      previewUnavailable: "Preview unavailable: {why}", previewNoEndpoint: "this receiver has no screens endpoint ({code}); publish anyway if the text is right",
      previewOff: "the site's screens cannot be previewed on this receiver", previewNoScript: "the preview script is not installed on this receiver",
      previewNoLayout: "the site has no screens yet", previewWorking: "Drawing the previews…", previewOne: "{layout} ({orientation}), {lang}",
      noDay: "choose at least one day", sessionEnded: "Your session ended: log in again.",
      mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun",
      lang_fr: "French", lang_en: "English", lang_it: "Italian",
      role_manager: "manager", role_admin: "admin", role_operator: "operator", role_read: "read only",
    },
  };
  const W = WORDS.en;
  const w = (key, vars) => String(W[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : "{" + k + "}"));

  const $ = (id) => document.getElementById(id);
  const meta = (name) => document.querySelector('meta[name="' + name + '"]').content;
  const MAX_UPLOAD = Number(meta("palier-max-upload"));
  const MEDIA_TYPES = meta("palier-media-types").split(" ");
  const MAX_MEDIA = Number(meta("palier-max-media"));
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const LANGS = ["fr", "en", "it"];
  const MAX_WINDOWS = 4;
  const DEFAULT_ZONE = "Europe/Monaco";

  const state = { csrf: "", me: null, site: "", zone: DEFAULT_ZONE, screens: null, previewWhy: "", notices: [], editing: null, media: [], loaded: false };

  // --- The API -----------------------------------------------------------
  class APIError extends Error {
    constructor(status, data) {
      super((data && data.error) || "HTTP " + status);
      this.status = status;
      this.param = (data && data.param) || "";
    }
  }
  async function api(method, path, body, contentType) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const r = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : contentType ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
    if (r.status === 401) {
      location.assign("/login?next=" + encodeURIComponent("/notices"));
    }
    if (!r.ok) throw new APIError(r.status, data);
    return data;
  }
  const sitePath = (rest) => "/api/v1/sites/" + encodeURIComponent(state.site) + rest;

  // --- Time in the screens' zone ----------------------------------------
  // offsetAt is the zone's offset from UTC, in ms, at the instant ms.
  function offsetAt(ms, zone) {
    const f = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    const asUTC = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    return asUTC - Math.floor(ms / 1000) * 1000;
  }
  // zonedToUTC turns a wall-clock "YYYY-MM-DDTHH:MM" of zone into an RFC
  // 3339 UTC time. It tries the zone's offsets of the day before and the
  // day after (they differ across a DST change) and keeps one that gives
  // the wall clock back: the earlier of two in the autumn's repeated hour;
  // in the hour skipped in spring, the offset before the change, which
  // moves the time forward by the gap (02:30 becomes 03:30).
  function zonedToUTC(local, zone) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
    if (!m) return "";
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    const day = 86400000;
    const before = wall - offsetAt(wall - day, zone);
    const after = wall - offsetAt(wall + day, zone);
    const fits = (t) => t + offsetAt(t, zone) === wall;
    let t = before;
    if (fits(before) && fits(after)) t = Math.min(before, after);
    else if (fits(after)) t = after;
    return new Date(t).toISOString().replace(".000Z", "Z");
  }
  // utcToZoned is the wall-clock "YYYY-MM-DDTHH:MM" of an instant in zone.
  function utcToZoned(iso, zone) {
    const ms = Date.parse(iso);
    const d = new Date(ms + offsetAt(ms, zone));
    return d.toISOString().slice(0, 16);
  }
  function showTime(iso) {
    return new Intl.DateTimeFormat(W.locale, { timeZone: state.zone, dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
  }
  function duration(s) {
    if (s < 60) return Math.round(s) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }
  function bytes(n) {
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1).replace(/\.0$/, "") + " MiB";
    if (n >= 1 << 10) return Math.round(n / (1 << 10)) + " KiB";
    return n + " bytes";
  }

  // --- Schedule ----------------------------------------------------------
  // encodeSchedule is the schedule as the API takes it, or undefined when
  // the notice is shown every day all day (then it is not sent).
  function encodeSchedule(days, windows) {
    const s = {};
    const picked = DAYS.filter((d) => days.includes(d));
    if (picked.length > 0 && picked.length < DAYS.length) s.days = picked;
    const hours = windows.filter((x) => x.from || x.to).map((x) => ({ from: x.from, to: x.to }));
    if (hours.length) s.hours = hours;
    return Object.keys(s).length ? s : undefined;
  }
  function scheduleWords(s) {
    if (!s) return w("always");
    let days = w("everyDayWords");
    if (s.days && s.days.length) {
      const k = s.days.join(",");
      days = k === "mon,tue,wed,thu,fri" ? w("weekdaysWords") : k === "sat,sun" ? w("weekendWords") : s.days.map((d) => w(d)).join(", ");
    }
    const hours = s.hours && s.hours.length ? s.hours.map((h) => h.from + "–" + h.to).join(", ") : w("allDay");
    return days + ", " + hours;
  }

  // --- The form ----------------------------------------------------------
  function buildDays() {
    const box = $("day-boxes");
    for (const d of DAYS) {
      const label = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.id = "day-" + d;
      cb.value = d;
      cb.checked = true;
      label.append(cb, " " + w(d));
      box.append(label);
    }
  }
  function setDays(list) {
    for (const d of DAYS) $("day-" + d).checked = list.includes(d);
    updateSchedule();
  }
  function addWindow(from, to) {
    const list = $("windows");
    if (list.children.length >= MAX_WINDOWS) return;
    const i = list.children.length;
    const div = document.createElement("div");
    div.className = "window";
    const field = (part, value) => {
      const p = document.createElement("p");
      const id = "schedule-hours-" + i + "-" + part;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = w(part) + " (" + (i + 1) + ")";
      const input = document.createElement("input");
      input.type = "time";
      input.id = id;
      input.value = value || "";
      input.setAttribute("aria-describedby", id + "-error");
      const err = document.createElement("span");
      err.id = id + "-error";
      err.className = "error field-error";
      p.append(label, input, err);
      return p;
    };
    const rm = document.createElement("button");
    rm.type = "button";
    rm.textContent = w("removeWindow");
    rm.setAttribute("aria-label", w("removeWindow") + " " + (i + 1));
    rm.addEventListener("click", () => {
      const kept = readWindows().filter((_, j) => j !== i);
      $("windows").replaceChildren();
      for (const x of kept) addWindow(x.from, x.to);
      updateSchedule();
    });
    div.append(field("from", from), field("to", to), rm);
    list.append(div);
    $("add-window").disabled = list.children.length >= MAX_WINDOWS;
    updateSchedule();
  }
  function readWindows() {
    return [...$("windows").children].map((_, i) => ({ from: $("schedule-hours-" + i + "-from").value, to: $("schedule-hours-" + i + "-to").value }));
  }
  function readDays() {
    return DAYS.filter((d) => $("day-" + d).checked);
  }
  function updateSchedule() {
    $("add-window").disabled = $("windows").children.length >= MAX_WINDOWS;
    $("schedule-words").textContent = scheduleWords(encodeSchedule(readDays(), readWindows()));
  }
  function updateMissing() {
    for (const l of ["en", "it"]) $("missing-" + l).hidden = $("title-" + l).value.trim() !== "" || $("body-" + l).value.trim() !== "";
  }

  // draft is the notice the form holds, as the API takes it. It throws an
  // APIError-like error naming the field for what cannot be sent at all.
  function draft() {
    const n = { category: $("category").value, priority: $("priority").value, title: {}, body: {} };
    if (state.editing) n.id = state.editing;
    for (const l of LANGS) {
      const t = $("title-" + l).value.trim();
      const b = $("body-" + l).value.trim();
      if (t || l === "fr") n.title[l] = t;
      if (b || l === "fr") n.body[l] = b;
    }
    const from = $("valid-from").value;
    const until = $("valid-until").value;
    if (from) n.valid_from = zonedToUTC(from, state.zone);
    if (until) n.valid_until = zonedToUTC(until, state.zone);
    if (state.media.length) n.media = state.media.map((m) => ({ url: m.url, sha256: m.sha256, type: m.type, size: m.size }));
    const days = readDays();
    if (days.length === 0) throw new APIError(400, { error: w("noDay"), param: "schedule.days" });
    const s = encodeSchedule(days, readWindows());
    if (s) n.schedule = s;
    return n;
  }

  // fillForm puts a notice (or an empty one) in the form.
  function fillForm(n) {
    clearErrors();
    state.editing = n ? n.id : null;
    for (const l of LANGS) {
      $("title-" + l).value = (n && n.title[l]) || "";
      $("body-" + l).value = (n && n.body[l]) || "";
    }
    $("category").value = n ? n.category : "general";
    $("priority").value = n ? n.priority : "normal";
    $("valid-from").value = utcToZoned(n ? n.valid_from : new Date().toISOString(), state.zone);
    $("valid-until").value = n && n.valid_until ? utcToZoned(n.valid_until, state.zone) : "";
    const s = n && n.schedule;
    $("windows").replaceChildren();
    for (const h of (s && s.hours) || []) addWindow(h.from, h.to);
    setDays((s && s.days) || DAYS);
    state.media = n && n.media ? n.media.slice() : [];
    showThumbs();
    updateMissing();
    $("compose-heading").textContent = w(n ? "composeEdit" : "composeNew");
    $("publish").textContent = w(n ? "save" : "publish");
    $("cancel-edit").hidden = !n;
    $("preview-images").replaceChildren();
    $("preview-status").textContent = "";
    $("preview").hidden = true;
  }

  // --- Errors next to their fields ----------------------------------------
  function clearErrors() {
    for (const e of document.querySelectorAll(".field-error")) e.textContent = "";
    for (const e of document.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
    $("form-error").textContent = "";
    $("top-error").textContent = "";
  }
  // fieldFor finds the field an API param names: title.en → title-en,
  // schedule.hours[1].to → schedule-hours-1-to, media[0].size → media,
  // trying shorter names until one exists.
  function fieldFor(param) {
    let id = param.replace(/^notices\[\d+\]\./, "").replace(/\[(\d+)\]/g, "-$1").replace(/[._]/g, "-");
    for (;;) {
      if (id && $(id + "-error")) return id;
      const cut = id.lastIndexOf("-");
      if (cut < 0) return "";
      id = id.slice(0, cut);
    }
  }
  function showError(e, fallback) {
    const id = e.param ? fieldFor(e.param) : "";
    if (!id) {
      fallback.textContent = e.message;
      return;
    }
    $(id + "-error").textContent = e.message;
    const field = $(id);
    field.setAttribute("aria-invalid", "true");
    if (field.focus) field.focus();
  }

  // --- Pictures ----------------------------------------------------------
  function showThumbs() {
    const ul = $("thumbs");
    ul.replaceChildren();
    state.media.forEach((m, i) => {
      const li = document.createElement("li");
      if (m.type.startsWith("image/")) {
        const img = document.createElement("img");
        img.src = "/media/" + m.sha256; // this origin: the CSP allows no other
        img.alt = w("pictures") + " " + (i + 1);
        li.append(img);
      } else {
        li.append(m.type + " ");
      }
      li.append(bytes(m.size) + " ");
      const rm = document.createElement("button");
      rm.type = "button";
      rm.textContent = w("removePicture");
      rm.setAttribute("aria-label", w("removePicture") + " " + (i + 1));
      rm.addEventListener("click", () => {
        state.media.splice(i, 1);
        showThumbs();
      });
      li.append(rm);
      li.dataset.sha256 = m.sha256;
      ul.append(li);
    });
    $("picture-file").disabled = state.media.length >= MAX_MEDIA;
  }
  async function upload(file) {
    $("media-error").textContent = "";
    if (state.media.length >= MAX_MEDIA) {
      $("media-error").textContent = w("tooMany", { n: MAX_MEDIA });
      return;
    }
    if (!MEDIA_TYPES.includes(file.type)) {
      $("media-error").textContent = w("badType", { name: file.name, type: file.type || "unknown", types: MEDIA_TYPES.join(", ") });
      return;
    }
    if (file.size > MAX_UPLOAD) {
      $("media-error").textContent = w("tooBig", { name: file.name, size: bytes(file.size), max: bytes(MAX_UPLOAD) });
      return;
    }
    $("form-status").textContent = w("uploading", { name: file.name });
    try {
      const m = await api("POST", sitePath("/media"), file, file.type);
      state.media.push(m);
      showThumbs();
      $("form-status").textContent = "";
    } catch (e) {
      $("form-status").textContent = "";
      $("media-error").textContent = file.name + ": " + e.message;
    }
  }

  // --- Preview -----------------------------------------------------------
  // The screens endpoint says the site's zone, languages and layouts; the
  // preview script draws each as the cabin screen does. Either may be
  // missing on this receiver: the page says so and publishing still works.
  async function loadScreens() {
    state.screens = null;
    state.previewWhy = "";
    state.zone = DEFAULT_ZONE;
    try {
      const s = await api("GET", sitePath("/screens"));
      state.screens = s;
      if (s.time_zone) state.zone = s.time_zone;
      if (!s.preview) state.previewWhy = w("previewOff");
      else if (!s.layouts || !s.layouts.length) state.previewWhy = w("previewNoLayout");
    } catch (e) {
      if (e.status === 401) throw e;
      state.previewWhy = e.status === 404 ? w("previewNoEndpoint", { code: 404 }) : e.message;
    }
    $("zone").textContent = state.zone;
    $("zone-note").textContent = w("zoneNote") + state.zone;
  }
  let previewScript = null;
  function loadPreviewScript() {
    if (typeof window.palierPreview === "function") return Promise.resolve();
    if (!previewScript) {
      previewScript = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = "/static/preview-1/preview.js";
        s.onload = () => (typeof window.palierPreview === "function" ? resolve() : reject(new Error(w("previewNoScript"))));
        s.onerror = () => reject(new Error(w("previewNoScript")));
        document.head.append(s);
      });
      previewScript.catch(() => { previewScript = null; });
    }
    return previewScript;
  }
  async function preview() {
    const out = $("preview-images");
    out.replaceChildren();
    $("preview").hidden = false;
    const status = $("preview-status");
    if (state.previewWhy) {
      status.textContent = w("previewUnavailable", { why: state.previewWhy });
      return;
    }
    let n;
    try {
      n = draft();
    } catch (e) {
      showError(e, $("form-error"));
      return;
    }
    if (!n.id) n.id = "preview";
    status.textContent = w("previewWorking");
    try {
      await loadPreviewScript();
    } catch (e) {
      status.textContent = w("previewUnavailable", { why: e.message });
      return;
    }
    const s = state.screens;
    const at = previewTime(n);
    const langs = s.languages && s.languages.length ? s.languages : LANGS;
    const errors = [];
    for (const layout of s.layouts) {
      for (const lang of langs) {
        const caption = w("previewOne", { layout: layout.layout, orientation: layout.orientation, lang: w("lang_" + lang) });
        try {
          const png = await window.palierPreview({
            layout: layout.layout, orientation: layout.orientation, language: lang, building: s.building || "",
            time_zone: state.zone, at, floor: 0, floor_label: "0", notices: [n],
          });
          const fig = document.createElement("figure");
          const img = document.createElement("img");
          img.src = png;
          img.alt = caption;
          const cap = document.createElement("figcaption");
          cap.textContent = caption;
          fig.append(img, cap);
          out.append(fig);
        } catch (e) {
          errors.push(caption + ": " + e.message);
        }
      }
    }
    status.textContent = errors.length ? w("previewUnavailable", { why: errors.join("; ") }) : "";
  }

  // --- The list ----------------------------------------------------------
  // inSchedule says whether the instant ms falls in schedule s, read on
  // the wall clock of zone as the screens read it.
  const clocks = new Map();
  function inSchedule(s, ms, zone) {
    if (!s) return true;
    let f = clocks.get(zone);
    if (!f) {
      f = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", weekday: "short", hour: "2-digit", minute: "2-digit" });
      clocks.set(zone, f);
    }
    const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    const day = p.weekday.toLowerCase().slice(0, 3);
    const hm = p.hour + ":" + p.minute;
    if (s.days && s.days.length && !s.days.includes(day)) return false;
    return !s.hours || !s.hours.length || s.hours.some((h) => h.from <= hm && hm < h.to);
  }
  // previewTime is when the preview shows the draft: its first minute on
  // screen from now (or from its start), within a week; else its start.
  function previewTime(n) {
    const t = nextShown(n, Date.now());
    return new Date(t === null ? Math.max(Date.now(), n.valid_from ? Date.parse(n.valid_from) : 0) : t).toISOString();
  }
  // nextShown is the first minute from after (or from the notice's start)
  // at which the screens show n, within 8 days; null if none. The screens
  // judge it the same way (wire.Notice.ShownAt), on their clock.
  function nextShown(n, after) {
    const start = Math.max(after, n.valid_from ? Date.parse(n.valid_from) : 0);
    const t0 = Math.ceil(start / 60000) * 60000;
    for (let t = t0; t < t0 + 8 * 86400000; t += 60000) {
      if (n.valid_until && t >= Date.parse(n.valid_until)) break;
      if (inSchedule(n.schedule, t, state.zone)) return t;
    }
    return null;
  }
  function statusOf(n, now) {
    if (Date.parse(n.valid_from) > now) return ["statusScheduled", "status-scheduled"];
    if (n.valid_until && Date.parse(n.valid_until) <= now) return ["statusEnded", "status-ended"];
    if (!inSchedule(n.schedule, now, state.zone)) return ["statusScheduled", "status-scheduled"];
    return ["statusNow", "status-now"];
  }
  const COLUMNS = ["colTitle", "colStatus", "colLanguages", "colCategory", "colPriority", "colValidity", "colSchedule", "colShown", "colActions"];
  // cell adds a cell to tr and returns what holds its content: one box,
  // so that on a narrow window the heading and the content sit side by side.
  function cell(tr, content, cls) {
    const td = document.createElement("td");
    td.dataset.label = w(COLUMNS[tr.cells.length]); // the heading, shown on a narrow window
    if (cls) td.className = cls;
    const box = document.createElement("div");
    if (content instanceof Node) box.append(content);
    else box.textContent = content;
    td.append(box);
    tr.append(td);
    return box;
  }
  async function loadNotices() {
    const set = await api("GET", sitePath("/notices"));
    state.notices = set.notices || [];
    const tbody = $("notices");
    tbody.replaceChildren();
    $("list-empty").hidden = state.notices.length > 0;
    $("list").hidden = state.notices.length === 0;
    const now = Date.now();
    for (const n of state.notices) {
      const tr = document.createElement("tr");
      tr.dataset.id = n.id;
      cell(tr, n.title.fr, "title");
      const [st, cls] = statusOf(n, now);
      const stCell = cell(tr, w(st), cls);
      if (st === "statusScheduled") {
        const next = nextShown(n, now);
        if (next !== null) stCell.append(document.createElement("br"), w("nextShown", { t: showTime(new Date(next).toISOString()) }));
      }
      const present = LANGS.filter((l) => l === "fr" || n.title[l] || n.body[l]);
      const absent = LANGS.filter((l) => !present.includes(l));
      const langs = cell(tr, w("present", { l: present.join(", ") }), "lang-cell");
      if (absent.length) langs.append(document.createElement("br"), w("absent", { l: absent.join(", ") }));
      cell(tr, w("cat_" + n.category));
      cell(tr, w("prio_" + n.priority));
      cell(tr, n.valid_until ? w("fromTo", { from: showTime(n.valid_from), until: showTime(n.valid_until) })
        : w("fromOnly", { from: showTime(n.valid_from), until: w("untilWithdrawn") }));
      cell(tr, scheduleWords(n.schedule));
      const shown = cell(tr, "…", "shown");
      const actions = cell(tr, "");
      const edit = document.createElement("button");
      edit.type = "button";
      edit.textContent = w("edit");
      edit.className = "edit";
      edit.setAttribute("aria-label", w("edit") + ": " + n.title.fr);
      edit.addEventListener("click", () => {
        fillForm(n);
        $("title-fr").focus();
      });
      const wd = document.createElement("button");
      wd.type = "button";
      wd.textContent = w("withdraw");
      wd.className = "withdraw";
      wd.setAttribute("aria-label", w("withdraw") + ": " + n.title.fr);
      wd.addEventListener("click", () => confirmWithdraw(n));
      actions.append(edit, wd);
      tbody.append(tr);
      loadPlays(n, shown);
    }
  }
  async function loadPlays(n, td) {
    try {
      const p = await api("GET", sitePath("/notices/" + encodeURIComponent(n.id) + "/plays"));
      if (!p.times) {
        td.textContent = w("notShown");
        return;
      }
      td.textContent = w("shownTotal", { d: duration(p.shown_s), n: p.times });
      const ul = document.createElement("ul");
      for (const c of p.cabins) {
        const li = document.createElement("li");
        li.textContent = w("shownIn", { cabin: c.cabin, langs: c.languages.slice().sort((a, b) => LANGS.indexOf(a.lang) - LANGS.indexOf(b.lang)).map((l) => l.lang + " " + duration(l.shown_s)).join(", ") });
        ul.append(li);
      }
      td.append(ul);
    } catch (e) {
      td.textContent = e.message;
    }
  }
  function confirmWithdraw(n) {
    const dlg = $("confirm");
    $("confirm-text").textContent = w("confirmWithdraw", { title: n.title.fr });
    dlg.dataset.id = n.id;
    dlg.showModal();
    $("confirm-no").focus();
  }
  async function withdraw(id) {
    clearErrors();
    try {
      await api("DELETE", sitePath("/notices/" + encodeURIComponent(id)));
      if (state.editing === id) fillForm(null);
      $("form-status").textContent = w("withdrawn");
      await loadNotices();
    } catch (e) {
      $("top-error").textContent = e.message;
    }
  }

  // --- Publishing --------------------------------------------------------
  async function submit(ev) {
    ev.preventDefault();
    clearErrors();
    let n;
    try {
      n = draft();
    } catch (e) {
      showError(e, $("form-error"));
      return;
    }
    $("publish").disabled = true;
    $("form-status").textContent = w("sending");
    try {
      if (state.editing) await api("PUT", sitePath("/notices/" + encodeURIComponent(state.editing)), n);
      else await api("POST", sitePath("/notices"), n);
      const done = w(state.editing ? "saved" : "published");
      fillForm(null);
      $("form-status").textContent = done;
      await loadNotices();
    } catch (e) {
      // The form keeps everything typed; only the message is new.
      $("form-status").textContent = "";
      showError(e, $("form-error"));
    } finally {
      $("publish").disabled = false;
    }
  }

  // --- Start ----------------------------------------------------------------
  async function chooseSite(site) {
    state.site = site;
    const u = new URL(location.href);
    u.searchParams.set("site", site);
    history.replaceState(null, "", u);
    clearErrors();
    // A draft survives a change of site (not an edit: its notice is the
    // other site's); its times stay the same instants in the new zone.
    const keep = state.loaded && !state.editing;
    const from = keep && $("valid-from").value ? zonedToUTC($("valid-from").value, state.zone) : "";
    const until = keep && $("valid-until").value ? zonedToUTC($("valid-until").value, state.zone) : "";
    state.loaded = true;
    try {
      await loadScreens();
      if (keep) {
        $("valid-from").value = from ? utcToZoned(from, state.zone) : "";
        $("valid-until").value = until ? utcToZoned(until, state.zone) : "";
      } else {
        fillForm(null);
      }
      await loadNotices();
      document.body.dataset.ready = site;
    } catch (e) {
      $("top-error").textContent = e.message;
    }
  }
  async function start() {
    for (const e of document.querySelectorAll("[data-w]")) e.textContent = w(e.dataset.w);
    $("picture-note").textContent = w("pictureNote", { n: MAX_MEDIA, types: MEDIA_TYPES.join(", "), size: bytes(MAX_UPLOAD) });
    buildDays();
    for (const d of DAYS) $("day-" + d).addEventListener("change", updateSchedule);
    $("windows").addEventListener("input", updateSchedule);
    $("preset-every").addEventListener("click", () => setDays(DAYS));
    $("preset-weekdays").addEventListener("click", () => setDays(DAYS.slice(0, 5)));
    $("add-window").addEventListener("click", () => {
      addWindow("", "");
      $("schedule-hours-" + ($("windows").children.length - 1) + "-from").focus();
    });
    for (const l of ["en", "it"]) for (const f of ["title", "body"]) $(f + "-" + l).addEventListener("input", updateMissing);
    $("picture-file").addEventListener("change", async (ev) => {
      const files = [...ev.target.files];
      for (const f of files) await upload(f);
      ev.target.value = "";
    });
    $("compose").addEventListener("submit", submit);
    // A field's message goes once the manager changes the field.
    $("compose").addEventListener("input", (ev) => {
      const f = ev.target.closest("[aria-invalid]");
      if (!f || !f.id || !$(f.id + "-error")) return;
      f.removeAttribute("aria-invalid");
      $(f.id + "-error").textContent = "";
    });
    $("preview-button").addEventListener("click", preview);
    $("cancel-edit").addEventListener("click", () => fillForm(null));
    $("confirm-no").addEventListener("click", () => $("confirm").close());
    $("confirm-yes").addEventListener("click", () => {
      $("confirm").close();
      withdraw($("confirm").dataset.id);
    });
    $("logout").addEventListener("click", async () => {
      try {
        await api("POST", "/api/v1/logout");
      } finally {
        location.assign("/login");
      }
    });
    $("site").addEventListener("change", () => chooseSite($("site").value));

    let me;
    try {
      me = await api("GET", "/api/v1/session");
    } catch (e) {
      if (e.status !== 401) $("top-error").textContent = e.message;
      return;
    }
    state.me = me;
    state.csrf = me.csrf || "";
    $("who").textContent = me.name + " (" + w("role_" + me.role) + ")";
    // A manager has its sites; an admin, every site: those with cabins.
    const sites = new Set(me.sites);
    if (!me.sites.length) {
      try {
        for (const c of await api("GET", "/api/v1/cabins")) sites.add(c.site);
      } catch (e) {
        $("top-error").textContent = e.message;
      }
    }
    const sel = $("site");
    for (const s of [...sites].sort()) {
      const o = document.createElement("option");
      o.value = o.textContent = s;
      sel.append(o);
    }
    const want = new URL(location.href).searchParams.get("site");
    if (want && sites.has(want)) sel.value = want;
    if (sel.value) await chooseSite(sel.value);
  }

  // For tests and for the preview's own checks: the form's encodings.
  window.palierNotices = { encodeSchedule, inSchedule, previewTime, nextShown, zonedToUTC, utcToZoned, scheduleWords, draft, fieldFor, words: WORDS };
  start();
})();
