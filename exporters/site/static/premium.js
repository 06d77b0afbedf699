// Opens a premium post in the reader's browser.  The post's age file (JSON: text, links, place,
// photos as base64) is fetched from this site and decrypted here with age-encryption
// (vendor/age-encryption.min.js); nothing leaves the browser.  A subscriber key
// (AGE-SECRET-KEY-1...) opens the post directly; a passphrase opens one of the site's key files
// (premium/keys/), which holds the key that opens the post.  User text only ever becomes
// textContent; links are made only for http, https and mailto.
(function () {
  "use strict";
  var STORE = "vault-premium-key";
  var form = document.getElementById("premium-unlock");
  var out = document.getElementById("premium-content");
  if (!form || !out || !window.ageEncryption || !window.fetch || !window.TextDecoder) return;
  var input = document.getElementById("premium-key");
  var remember = document.getElementById("premium-remember");
  var status = document.getElementById("premium-status");
  var urls = [];

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "premium-status error" : "premium-status";
  }

  function clear() {
    urls.forEach(function (u) { URL.revokeObjectURL(u); });
    urls = [];
    while (out.firstChild) out.removeChild(out.firstChild);
    out.hidden = true;
  }

  function fetchBytes(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("missing " + url);
      return r.arrayBuffer();
    }).then(function (buf) { return new Uint8Array(buf); });
  }

  function identityIn(text) {
    var lines = text.split(/\r?\n/);
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i].trim();
      if (/^AGE-SECRET-KEY-1[0-9A-Z]+$/i.test(line)) return line.toUpperCase();
    }
    return null;
  }

  function decryptWithIdentity(file, identity) {
    var d = new window.ageEncryption.Decrypter();
    d.addIdentity(identity);
    return d.decrypt(file, "text");
  }

  // Each key file is the site key sealed with one passphrase; try them in turn.
  function identityFromPassphrase(passphrase) {
    var base = form.getAttribute("data-keys");
    var dir = base.slice(0, base.lastIndexOf("/") + 1);
    return fetch(base, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : { key_files: [] };
    }).then(function (index) {
      var names = (index.key_files || []).filter(function (n) { return /^[0-9a-f]+\.age$/.test(n); });
      function next(i) {
        if (i >= names.length) return null;
        return fetchBytes(dir + names[i]).then(function (file) {
          var d = new window.ageEncryption.Decrypter();
          d.addPassphrase(passphrase);
          return d.decrypt(file, "text").then(function (text) { return identityIn(text); }, function () { return next(i + 1); });
        });
      }
      return next(0);
    });
  }

  function safeHref(url) {
    if (typeof url !== "string" || /[\s\u0000-\u001f\u007f-\u009f]/.test(url)) return null;
    var parsed;
    try { parsed = new URL(url); } catch (e) { return null; }
    if (parsed.protocol === "mailto:") return url;
    if ((parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.hostname && /^https?:\/\//i.test(url)) return url;
    return null;
  }

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    return node;
  }

  function bytesOf(b64) {
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function render(post) {
    clear();
    if (post.title) out.appendChild(el("h2", String(post.title)));
    String(post.text || "").split(/\n\s*\n/).forEach(function (para) {
      if (!para.trim()) return;
      var p = el("p");
      para.split("\n").forEach(function (line, i) {
        if (i) p.appendChild(el("br"));
        p.appendChild(document.createTextNode(line));
      });
      out.appendChild(p);
    });
    var media = Array.isArray(post.media) ? post.media : [];
    if (media.length) {
      var box = el("div");
      box.className = "media";
      media.forEach(function (m) {
        var mime = String(m.mime || "");
        var kind = /^image\//.test(mime) ? "img" : /^video\//.test(mime) ? "video" : null;
        if (!kind || typeof m.data_base64 !== "string") return;
        var url = URL.createObjectURL(new Blob([bytesOf(m.data_base64)], { type: mime }));
        urls.push(url);
        var fig = el("figure");
        var node = el(kind);
        node.src = url;
        if (kind === "img") node.alt = String(m.alt || "");
        else node.controls = true;
        if (m.width && m.height) { node.width = m.width; node.height = m.height; }
        fig.appendChild(node);
        if (m.caption && m.caption !== post.text) fig.appendChild(el("figcaption", String(m.caption)));
        box.appendChild(fig);
      });
      out.appendChild(box);
    }
    var links = Array.isArray(post.links) ? post.links : [];
    if (links.length) {
      var ul = el("ul");
      ul.className = "links";
      links.forEach(function (l) {
        var li = el("li");
        var href = safeHref(l);
        if (href) {
          var a = el("a", String(l));
          a.href = href;
          a.rel = "nofollow noopener";
          li.appendChild(a);
        } else {
          li.appendChild(el("span", String(l)));
        }
        ul.appendChild(li);
      });
      out.appendChild(ul);
    }
    if (post.place && post.place.name) out.appendChild(el("p", "\uD83D\uDCCD " + String(post.place.name)));
    out.hidden = false;
  }

  function unlock(secret, fromStore) {
    clear();
    var key = secret.trim();
    if (!key) return;
    say("Opening…", false);
    var identity = identityIn(key);
    var file;
    fetchBytes(form.getAttribute("data-age")).then(function (bytes) {
      file = bytes;
      return identity || identityFromPassphrase(key);
    }).then(function (id) {
      if (!id) throw new Error("wrong key");
      return decryptWithIdentity(file, id);
    }).then(function (text) {
      render(JSON.parse(text));
      say("", false);
      form.hidden = true;
      try {
        if (remember.checked) localStorage.setItem(STORE, key);
        else localStorage.removeItem(STORE);
      } catch (e) { /* storage disabled: nothing to remember */ }
    }).catch(function (err) {
      clear();
      var missing = err && /^missing /.test(err.message);
      say(missing ? "The encrypted post could not be loaded from this site. Try again later."
        : identity ? "This key does not open this post. Check that you pasted the whole key you received as a subscriber."
          : "This passphrase does not open this post. Check it and try again.", true);
      if (fromStore) {
        input.value = "";
        try { localStorage.removeItem(STORE); } catch (e) { /* ignore */ }
      }
    });
  }

  form.hidden = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    unlock(input.value, false);
  });
  var stored = null;
  try { stored = localStorage.getItem(STORE); } catch (e) { stored = null; }
  if (stored) {
    remember.checked = true;
    input.value = stored;
    unlock(stored, true);
  }
})();
