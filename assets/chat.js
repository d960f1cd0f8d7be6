/* What the chat page must do in the browser; everything else is Python callbacks over the store.
 * - follow the answer being written: fetch + ReadableStream on /api/generations/<id>/events (resumed after a
 *   dropped connection with Last-Event-ID), the text accumulated here and pushed into the live message;
 * - Enter/IME, the clipboard, clicks on drawn items (turned into small stores the callbacks read);
 * - loading the antd and Markdown bundles after the first screen, the system theme, and moving conversations an older
 *   version kept in this browser (IndexedDB) to the server, once. */
(function () {
  'use strict';

  const OLD_DB = 'chat-app';               // where earlier versions kept conversations (IndexedDB)
  const OLD_LOCAL = 'chat-conversation';   // the one conversation the first versions kept in localStorage
  const MIGRATED = 'chat-moved-to-server';
  const RETRY_MS = 300, RETRY_MAX_MS = 5000;  // a dropped answer stream: pauses before it is tried again
  const BUNDLES_AT_LATEST = 3000;          // ms: fac and fmc load once the first screen is drawn, or after this

  const state = {config: null, live: null, antdLoad: null, markdownLoad: null, theme: 'system', shownId: undefined,
    ready: []};                            // what waits for init (the page comes drawn: the callbacks run in any order)
  let ids = {};                            // the page's ids (components/ids.py BROWSER), from the config
  const dc = () => window.dash_clientside;
  const setProps = (id, props) => dc().set_props(id, props);
  const t = (key) => state.config.strings[key] || key;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const whenIdle = (f) => (window.requestIdleCallback ? requestIdleCallback(f, {timeout: 2000}) : f());
  const whenReady = (f) => (state.config ? f() : state.ready.push(f));  // once init has the config

  function local(key, value) {
    // localStorage throws in some private modes: then nothing is remembered.
    try {
      if (value === undefined) return localStorage.getItem(key);
      if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value);
    } catch (e) { /* nothing to remember with */ }
    return null;
  }

  function notify(type, text) {  // the toast callbacks/page.py's notice() draws
    setProps(ids.GLOBAL_MESSAGE, {children: {namespace: 'dash_html_components', type: 'Div', props: {children: text,
      className: `chat-toast chat-toast--${type}`, role: type === 'error' ? 'alert' : 'status', key: String(Date.now())}}});
  }

  function scrollToEnd(force) {
    const box = document.getElementById(ids.SCROLL);
    // Follow the answer only while the reader is at the bottom; never yank someone reading above.
    if (box && (force || box.scrollHeight - box.scrollTop - box.clientHeight < 80)) box.scrollTop = box.scrollHeight;
  }

  /* A component library's script left out of the page (the first screen does not need it); resolves once it ran.
   * onload also fires when the script ran but failed: only a defined namespace counts. */
  function loadScript(src, namespace) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.onload = () => (window[namespace] ? resolve() : script.onerror());
      script.onerror = () => { script.remove(); reject(new Error(namespace)); };
      document.head.appendChild(script);
    });
  }

  /* The bundles the first screen does not need: fac (the callbacks then draw the settings drawer and the dialogs)
   * and fmc (answers as Markdown). Running them holds the page for a while, so they wait until what the page opens
   * on is drawn: the conversation, and the text of an answer being written (live.render loads them then). fmc: at
   * once with answers on screen (again, if it failed before), else when the page is idle. */
  function loadBundles(answers) {
    if (!state.antdLoad) {
      state.antdLoad = loadScript(state.config.antdBundle, 'feffery_antd_components')
        .then(() => setProps(ids.ANTD, {data: true}));
      if (!answers) whenIdle(loadMarkdown);
    }
    if (answers) loadMarkdown();
  }

  /* fmc: once loaded, the callbacks draw answers as Markdown. If it fails, answers stay plain text and the
   * next page load tries again. */
  function loadMarkdown() {
    if (!state.markdownLoad) {
      state.markdownLoad = loadScript(state.config.markdownBundle, 'feffery_markdown_components')
        .then(() => setProps(ids.MARKDOWN, {data: true}), () => { state.markdownLoad = null; });
    }
    return state.markdownLoad;
  }

  /* ---------- the answer being written ---------- */

  /* One SSE event block → {id, content, reasoning, end}. */
  function parseEvent(block) {
    const event = {id: null, content: '', reasoning: '', end: false};
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('id:')) event.id = line.slice(3).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    const payload = data.join('\n');
    if (!payload) return event;
    if (payload === '[DONE]') return Object.assign(event, {end: true});
    const obj = JSON.parse(payload);
    if (obj.error) return Object.assign(event, {end: true});
    const delta = ((obj.choices || [])[0] || {}).delta || {};
    return Object.assign(event, {content: delta.content || '', reasoning: delta.reasoning_content || ''});
  }

  /* The live message on screen: its text so far, drawn at most ~30 times a second (less for long answers: the
   * Markdown re-parse grows with length). */
  function liveMessage(stream) {
    const live = {stream, text: '', reasoning: '', shown: -1, shownReasoning: -1, timer: null, thinkStart: null,
      controller: new AbortController()};
    live.render = () => {
      live.timer = null;
      if (live.shown < 0) loadBundles(true);  // with its first drawing (not each: a failed fmc would be tried again)
      const seq = stream.seq;
      if (!document.getElementById(ids.MESSAGE_PREFIX + seq)) return;  // not drawn (yet)
      if (live.reasoning.length !== live.shownReasoning) {
        setProps(ids.THINK_PREFIX + seq, {hidden: !live.reasoning});
        setProps(ids.THINK_TEXT_PREFIX + seq, {children: live.reasoning});
      }
      if (live.text.length !== live.shown) {
        const text = live.stream.markdown ? {markdownStr: live.text} : {children: live.text || '…'};
        setProps(ids.ANSWER_PREFIX + seq, text);
        if (live.reasoning && live.text && live.shown <= 0) {  // the answer starts: the thinking folds away
          const seconds = (performance.now() - live.thinkStart) / 1000;
          setProps(ids.THINK_PREFIX + seq, {open: false});
          setProps(ids.THINK_LABEL_PREFIX + seq, {children: t('thoughtFor').replace('{n}', seconds.toFixed(1))});
        }
      }
      [live.shown, live.shownReasoning] = [live.text.length, live.reasoning.length];
      scrollToEnd(false);
    };
    live.schedule = () => {
      const length = live.text.length + live.reasoning.length;
      if (live.timer === null) live.timer = setTimeout(live.render, live.shown > 0 ? Math.min(400, 33 + length / 100) : 0);
    };
    return live;
  }

  /* Before connecting again: a pause that grows with the tries, cut short when the browser comes back online. */
  function pause(tries) {
    let back;
    const online = new Promise((ok) => window.addEventListener('online', back = ok));
    return Promise.race([online, sleep(Math.min(RETRY_MS * tries, RETRY_MAX_MS))])
      .finally(() => window.removeEventListener('online', back));
  }

  /* Read the generation's events into `live` until it ends. A connection that drops, fails, or goes silent (a running
   * answer's stream has an event or a heartbeat every few seconds: silence is a laptop that slept or a network that
   * changed) resumes after the last event, for as long as this page follows the answer: the server has it. */
  async function read(live) {
    const {gid} = live.stream;
    const signal = live.controller.signal;
    let last = null;
    let ended = false;
    for (let tries = 0; !ended && !signal.aborted; tries++) {
      if (tries) await pause(tries);
      const connection = new AbortController();
      const drop = () => connection.abort();
      let silence = setTimeout(drop, state.config.silentMs);
      signal.addEventListener('abort', drop);
      try {
        const response = await fetch(`${state.config.prefix}api/generations/${gid}/events`,
          {headers: last ? {'Last-Event-ID': last} : {}, signal: connection.signal});
        if (response.status < 500 && !response.ok) break;  // gone or refused: the store has the answer as it ended
        const reader = response.ok && response.body.getReader();  // a 5xx: the server restarts; tried again
        const decoder = new TextDecoder();
        let buffer = '';
        while (reader && !ended) {
          const chunk = await reader.read();
          if (chunk.done) break;
          clearTimeout(silence);
          silence = setTimeout(drop, state.config.silentMs);
          tries = 0;
          buffer += decoder.decode(chunk.value, {stream: true});
          let cut;
          while (!ended && (cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const event = parseEvent(buffer.slice(0, cut));
            buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
            if (event.id) last = event.id;
            if (event.reasoning && live.thinkStart === null) live.thinkStart = performance.now();
            live.text += event.content;
            live.reasoning += event.reasoning;
            ended = event.end;
          }
          live.schedule();
        }
      } catch (e) {
        if (signal.aborted) return;
      } finally {
        clearTimeout(silence);
        signal.removeEventListener('abort', drop);
        drop();  // nothing of this connection is left open (an unread error body)
      }
    }
    clearTimeout(live.timer);
    if (signal.aborted) return;  // another conversation is on screen: this answer goes on without us
    live.render();
    state.live = null;
    setProps(ids.DONE, {data: {gid, at: Date.now()}});  // the callbacks draw the finished answer
  }

  /* ---------- conversations an older version kept in this browser ---------- */

  function oldConversations() {
    return new Promise((resolve) => {
      if (!window.indexedDB) return resolve([]);
      const request = indexedDB.open(OLD_DB);
      request.onupgradeneeded = () => request.transaction.abort();  // there was none: create nothing
      request.onerror = () => resolve([]);
      request.onsuccess = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains('conversations')) { db.close(); return resolve([]); }
        const all = db.transaction('conversations').objectStore('conversations').getAll();
        all.onsuccess = () => { db.close(); resolve(all.result || []); };
        all.onerror = () => { db.close(); resolve([]); };
      };
    });
  }

  /* Send them to the server (its import checks them whole), then forget the browser copy. */
  async function moveToServer() {
    if (local(MIGRATED)) return;
    const conversations = await oldConversations();
    try {
      const messages = JSON.parse(local(OLD_LOCAL) || '[]');
      if (Array.isArray(messages) && messages.length) {
        conversations.push({id: `local-${Date.now()}`, title: '', messages});
      }
    } catch (e) { /* unreadable: nothing to move */ }
    if (conversations.length) {
      const response = await fetch(`${state.config.prefix}api/import`, {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(Object.assign({conversations}, state.config.exportFormat))}).catch(() => null);
      if (!response || !response.ok) return;  // tried again on the next page load (e.g. after the access code)
      const result = await response.json();
      indexedDB.deleteDatabase(OLD_DB);
      if (result.imported) notify('success', t('imported').replace('{n}', result.imported));
      setProps(ids.CHANGED, {data: Date.now()});
    }
    local(OLD_LOCAL, null);
    local(MIGRATED, '1');
  }

  /* A callback the server could not run at all (the store is down, a bug) says so; Dash itself only logs it.
   * A 404 is another user's id or a deleted conversation: nothing to say. */
  const dashFetch = window.fetch;
  window.fetch = async function (resource, options) {
    const response = await dashFetch.call(this, resource, options);
    if (!response.ok && response.status !== 404 && String(resource).includes('_dash-update-component') && state.config) {
      response.clone().json().catch(() => ({})).then((body) => {
        const code = (body.error || {}).code;
        notify('error', state.config.errors[code] || state.config.errors.default);
      });
    }
    return response;
  };

  /* Light or dark (`theme`: light, dark or system) on the page; true when dark. */
  function applyTheme(theme) {
    state.theme = theme || 'system';
    const dark = state.theme === 'dark' || (state.theme === 'system' && !!window.matchMedia
      && window.matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    return dark;
  }

  /* ---------- entry points for clientside callbacks ---------- */

  const chat = {
    init: function (config, dark) {
      state.config = config;
      chat.ids = ids = config.ids;  // attach.js reads them here too
      setTimeout(() => loadBundles(false), BUNDLES_AT_LATEST);  // should the page's first drawing fail
      state.ready.splice(0).forEach((f) => f());
      if (applyTheme(config.theme) !== dark) setProps(ids.DARK, {data: !dark});
      moveToServer();
      if (window.matchMedia) {
        window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
          setProps(ids.DARK, {data: applyTheme(state.theme)});
        });
      }
      return dc().no_update;
    },
    follow: function (stream) {
      whenReady(() => {
        const live = state.live;
        if (live && stream && live.stream.gid === stream.gid) {  // redrawn mid-answer: draw what arrived again
          live.stream = stream;  // drawn as Markdown now, perhaps
          [live.shown, live.shownReasoning] = [-1, -1];
          return live.schedule();
        }
        if (live) live.controller.abort();
        state.live = stream ? liveMessage(stream) : null;
        if (state.live) read(state.live);
      });
    },
    shown: function (shown) {  // what is drawn changed: scroll, and Send or Stop
      const id = shown && shown.id;
      const changed = id !== state.shownId;
      state.shownId = id;
      const live = !!(shown && shown.live);  // while an answer is written: Stop instead of Send
      whenReady(() => {
        if (shown && !live) loadBundles(!!id);  // once what the page opens on is drawn
        requestAnimationFrame(() => scrollToEnd(changed));
      });
      return [live, {display: live ? 'inline-flex' : 'none'}];
    },
    copy: async function (data) {
      try {
        await navigator.clipboard.writeText(data.text);
      } catch (e) {
        // Plain-http pages have no async clipboard: fall back to a hidden textarea.
        const area = document.createElement('textarea');
        area.value = data.text;
        document.body.appendChild(area);
        area.select();
        const ok = document.execCommand('copy');
        area.remove();
        if (!ok) return notify('error', t('copyFailed'));
      }
      notify('success', t('copied'));
    },
    theme: function (theme) {  // drawing the drawer fires this with the theme already applied: nothing changes
      return (theme || 'system') === state.theme ? dc().no_update : applyTheme(theme);
    },
    language: function (lang) {
      if (lang && lang !== state.config.lang) window.location.href = state.config.langUrl + lang;
    },
    toggleSider: function () {
      return document.getElementById(ids.SHELL).classList.contains('chat-shell--sider-open')
        ? 'chat-shell' : 'chat-shell chat-shell--sider-open';
    },
  };

  /* Enter sends, Shift+Enter is a newline, and Enter that confirms an IME composition does nothing. */
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    const target = event.target;
    if (!state.config || !target || !target.closest || !target.closest(`#${ids.INPUT}, .chat-input`)) return;
    event.preventDefault();
    const send = document.getElementById(ids.SEND);
    if (send && !send.disabled) send.click();
  }, true);

  // Items drawn by the callbacks are many and redrawn often: one listener turns their clicks into stores.
  const at = () => Date.now();
  const message = (action) => (el) => setProps(ids.MESSAGE_ACTION,
    {data: {action, seq: Number(el.dataset.index), at: at()}});
  const clicks = () => [
    ['.chat-retry', message('retry')],
    ['.msg-regenerate', message('regenerate')],
    ['.msg-copy', message('copy')],
    ['.msg-edit', (el) => {
      message('edit')(el);
      (document.querySelector(`#${ids.INPUT} textarea, textarea#${ids.INPUT}`) || el).focus();
    }],
    ['.msg-delete', message('delete')],
    ['.conv-rename', (el) => setProps(ids.PENDING, {data: {id: el.dataset.id, action: 'rename', at: at()}})],
    ['.conv-delete', (el) => setProps(ids.PENDING, {data: {id: el.dataset.id, action: 'delete', at: at()}})],
    ['.conv-item', (el) => setProps(ids.PICK, {data: {id: el.dataset.id, at: at()}})],
    [`#${ids.BACKDROP}`, () => setProps(ids.SHELL, {className: 'chat-shell'})],
  ];
  document.addEventListener('click', (event) => {
    if (!state.config || !event.target.closest) return;
    for (const [selector, action] of clicks()) {
      const element = event.target.closest(selector);
      if (element) return action(element);
    }
  });

  // Scrolling near the top of a long conversation shows the earlier messages (one request a second at most).
  let earlierAt = 0;
  document.addEventListener('scroll', (event) => {
    const earlier = document.getElementById(ids.EARLIER);
    if (event.target.id !== ids.SCROLL || event.target.scrollTop > 200 || !earlier || earlier.hidden) return;
    if (Date.now() - earlierAt > 1000) earlier.click();
    earlierAt = Date.now();
  }, true);

  // Other browsers' changes are looked for only while the page is seen, and at once when it is seen again.
  document.addEventListener('visibilitychange', () => {
    if (state.config) setProps(ids.SYNC, document.hidden ? {disabled: true} : {disabled: false, n_intervals: at()});
  });

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.chat = chat;
})();
