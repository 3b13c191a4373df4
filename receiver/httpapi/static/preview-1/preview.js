// The notice preview: the cabin screen's own drawing, compiled to
// WebAssembly (cmd/preview), run in this page.
//
//   const url = await palierPreview({layout: "800x480", orientation: "landscape",
//                                    language: "fr", notices: [...], ...});
//   img.src = url; // "data:image/png;base64,...", the screen's pixels
//
// The first call loads /preview/wasm_exec.js and /preview/screen.wasm (once);
// the promise rejects with an Error whose message names the bad field (and
// whose field property holds it), or says why the preview cannot run
// (not installed on the receiver, no WebGL). The page's CSP needs
// script-src 'self' 'wasm-unsafe-eval' (docs/SECURITY.md).
//
// ebiten, which draws, restyles the document and adds a canvas when it
// starts: this script puts the page's styles back and hides the canvas.
(() => {
  "use strict";
  if (typeof window.palierPreview === "function") {
    return;
  }
  let ready = null; // the promise of Go's palierPreview, once loading began

  const loadScript = (src) => new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error("palier preview: could not load " + src));
    document.head.appendChild(s);
  });

  // Why a preview file is missing: the receiver says in its JSON error.
  const notInstalled = async (resp) => {
    let why = "HTTP " + resp.status;
    try {
      why = (await resp.json()).error || why;
    } catch (e) { /* not JSON: the status says enough */ }
    return new Error("palier preview: the screen's drawing is not available on this receiver (" + why + ")");
  };

  // keepPage hides what ebiten adds to the page and puts back the styles
  // it changes; it returns the function that undoes it once more, for the
  // styles ebiten sets again when its loop starts.
  const keepPage = () => {
    const html = document.documentElement, body = document.body;
    const htmlStyle = html.style.cssText, bodyStyle = body.style.cssText;
    const before = new Set(document.querySelectorAll("body > canvas, head > meta[name=viewport]"));
    const restore = () => {
      html.style.cssText = htmlStyle;
      body.style.cssText = bodyStyle;
      // ebiten's own: a canvas it appends to the body, a viewport in the head.
      for (const el of document.querySelectorAll("body > canvas, head > meta[name=viewport]")) {
        if (before.has(el)) {
          continue;
        }
        if (el.tagName === "META") {
          el.remove(); // ebiten's viewport: the page's own stays
        } else {
          el.style.display = "none";
          el.removeAttribute("tabindex");
          el.setAttribute("aria-hidden", "true");
          el.dataset.palierPreview = "canvas";
        }
      }
    };
    const watch = new MutationObserver(restore);
    watch.observe(document.documentElement, {childList: true, subtree: true, attributes: true, attributeFilter: ["style"]});
    return () => { watch.disconnect(); restore(); };
  };

  const load = async () => {
    if (document.readyState === "loading") {
      await new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, {once: true}));
    }
    const resp = await fetch("/preview/screen.wasm", {credentials: "same-origin"});
    if (!resp.ok) {
      throw await notInstalled(resp);
    }
    if (typeof window.Go !== "function") {
      await loadScript("/preview/wasm_exec.js");
    }
    const go = new window.Go();
    const {instance} = await WebAssembly.instantiateStreaming(resp, go.importObject);
    const undo = keepPage();
    const started = new Promise((resolve, reject) => {
      window.palierPreviewStarted = (err) => {
        undo();
        if (err) {
          reject(new Error("palier preview: " + err));
          return;
        }
        const render = window.palierPreview; // Go's, set as it began
        window.palierPreview = palierPreview; // ours again
        resolve(render);
      };
      go.run(instance).then(
        () => reject(new Error("palier preview: the screen's drawing stopped")),
        (e) => reject(new Error("palier preview: the screen's drawing failed: " + e)));
    });
    return started;
  };

  // palierPreview draws a request (an object, or its JSON; see ui/preview)
  // and resolves to a PNG data URL.
  async function palierPreview(request) {
    if (ready === null) {
      ready = load();
    }
    const render = await ready;
    return render(typeof request === "string" ? request : JSON.stringify(request));
  }
  window.palierPreview = palierPreview;
})();
