/* Chat page logic in one namespace: conversations, the streaming reader, message rendering, settings
 * and keyboard handling. Answers are read with fetch + ReadableStream from /v1/chat/completions (OpenAI SSE)
 * and the text is accumulated here, so a burst of chunks can never be dropped by React batching; the page
 * only ever receives the full text of the one message that changed. Conversations live in IndexedDB
 * (assets/chat_store.js); the pure parts are in assets/chat_data.js. */
(function () {
  'use strict';

  const DEFAULT_SETTINGS = {multiTurn: true, model: null, systemPrompt: '', temperature: 0.7, maxTokens: null,
    historyTurns: 20, theme: 'system'};
  const state = {
    config: null,         // from the chat-config store: strings, markdown props, limits
    conversations: [],    // every saved conversation (most recently updated first)
    current: null,        // the conversation on screen (not saved until its first question)
    windowStart: 0,       // index of the first rendered message: long conversations render their tail
    blockCount: 0,        // blocks in #chat-messages, the spare empty ones included
    streams: new Map(),   // conversation id → AbortController of its streaming answer
    settings: Object.assign({}, DEFAULT_SETTINGS),
    settingsReady: false, // the saved settings were applied to the controls
    editing: null,        // index of the question being edited, or null
    pending: null,        // id of the conversation awaiting rename / delete confirmation
    search: '',
    memoryOnly: false,    // browser storage failed: keep working in memory
    storageWarned: false,
    leaving: false,
    accessCode: null,
    shownBusy: null,      // what the stop/send buttons and the list show now (skip set_props that change nothing)
    shownList: null,
    dark: false,
    markdownLoad: null,   // the promise of fmc's bundle, while it loads or once loaded (see loadMarkdown)
    markdownReady: false, // fmc's bundle is loaded; until then answers show as plain text
  };
  // Tests and the export callback read the current conversation's messages as `history`.
  Object.defineProperty(state, 'history', {get: () => (state.current ? state.current.messages : [])});

  const ACCESS_CODE_KEY = 'chat-access-code';
  const SETTINGS_KEY = 'chat-settings';
  const CURRENT_KEY = 'chat-current-conversation';
  const LEGACY_KEY = 'chat-conversation';  // the single conversation kept by earlier versions
  const PARTIAL_SAVE_MS = 1000;  // how often a streaming answer is written to storage
  const WINDOW = 64;             // messages rendered at once; earlier ones load on scroll
  const BLOCK = 8;               // messages per block (see blockChildren)
  const SPARE_BLOCKS = 32;       // empty blocks for new turns before a full redraw
  const DARK_CODE_THEME = 'a11y-dark';
  const MARKDOWN_WAIT_MS = 3000; // how long a restored conversation waits for fmc before showing plain text

  const dc = () => window.dash_clientside;
  const data = () => window.chatData;
  const setProps = (id, props) => dc().set_props(id, props);
  const t = (key) => (state.config && state.config.strings[key]) || key;
  const format = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ''));

  function component(namespace, type, props) {
    return {namespace, type, props};
  }
  const div = (props) => component('dash_html_components', 'Div', props);
  // Icons are drawn by CSS (style.css, .chat-icon-*): an icon component per button would add a Dash
  // wrapper to every message, and Dash's per-update work grows with the number of wrappers on the page.
  const iconButton = (className, label, iconName, extra) => component('dash_html_components', 'Button',
    Object.assign({className: `chat-icon-button chat-icon-${iconName} ${className}`, title: label,
      'aria-label': label}, extra));

  function local(key, value) {
    // localStorage throws in some private modes; settings then live for this page only.
    try {
      if (value === undefined) return localStorage.getItem(key);
      if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value);
    } catch (e) { /* memory only */ }
    return null;
  }

  /* ---------- rendering ---------- */

  const CODE = /(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`)/;
  const REMOTE_IMAGE = /!\[([^\]]*)\]\((\s*<?(?:https?:)?\/\/)/gi;

  /* Remote images become plain links: an image URL in a prompt-injected answer could carry data out.
   * (The Content-Security-Policy also refuses remote images; this keeps them visible and clickable.) */
  function displayMarkdown(text) {
    return text.split(CODE).map((part, i) => (i % 2 ? part : part.replace(REMOTE_IMAGE, '[🖼 $1]($2'))).join('');
  }

  function errorText(code) {
    if (code === 'reloaded') return t('reloaded');
    const messages = state.config.errors;
    return messages[code] || messages.default;
  }

  /* "model · first token 320 ms · 42.0 tok/s · in 12 · out 128 tokens (estimated)" */
  function statsText(msg) {
    const stats = msg.stats || {};
    const parts = [];
    if (msg.model) parts.push(String(msg.model));
    if (Number.isFinite(stats.firstTokenMs)) parts.push(format(t('statsFirstToken'), {ms: Math.round(stats.firstTokenMs)}));
    if (Number.isFinite(stats.tokensPerSecond)) parts.push(`${stats.tokensPerSecond.toFixed(1)} tok/s`);
    if (stats.usage) {
      parts.push(format(t('statsUsage'), {prompt: stats.usage.prompt_tokens, completion: stats.usage.completion_tokens})
        + (stats.usage.reasoning_tokens ? format(t('statsReasoning'), {n: stats.usage.reasoning_tokens}) : '')
        + (stats.usage.estimated ? t('statsEstimated') : ''));
    }
    return parts.join(' · ');
  }

  function messageActions(msg, index) {
    const attrs = {'data-index': String(index)};
    if (msg.role === 'user') {
      return div({className: 'chat-actions', children: [
        iconButton('msg-edit', t('edit'), 'edit', attrs),
        iconButton('msg-delete', t('deleteTurn'), 'delete', attrs),
      ]});
    }
    const buttons = [
      iconButton('msg-copy', t('copy'), 'copy', attrs),
      iconButton('msg-regenerate', t('regenerate'), 'reload', attrs),
      iconButton('msg-delete', t('deleteTurn'), 'delete', attrs),
    ];
    const stats = statsText(msg);
    if (stats) buttons.push(component('dash_html_components', 'Span', {className: 'chat-stats', children: stats}));
    return div({className: 'chat-actions', children: buttons});
  }

  /* The props that show answer text: Markdown once fmc is loaded, plain text until then. */
  function answerText(text, streaming) {
    if (!state.markdownReady) return {children: text || (streaming ? '…' : '')};
    return {markdownStr: displayMarkdown(text)};
  }

  function answerView(msg, index) {
    const id = `chat-md-${index}`;
    const streaming = msg.status === 'streaming';
    if (!state.markdownReady) return div(Object.assign({id, className: 'chat-text'}, answerText(msg.content, streaming)));
    return component('feffery_markdown_components', 'FefferyMarkdown', Object.assign(
      {id, placeholder: streaming ? '…' : ''}, answerText(msg.content, streaming),
      state.config.markdownProps, state.dark ? {codeTheme: DARK_CODE_THEME} : {}));
  }

  /* Load fmc's bundle once (the server leaves it out of the page: the first screen does not need it). If it
   * fails, answers stay plain text and the next call tries again. */
  function loadMarkdown() {
    if (!state.markdownLoad) {
      state.markdownLoad = new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = state.config.markdownBundle;
        // onload also fires when the script ran but failed: only a defined namespace counts.
        script.onload = () => (window.feffery_markdown_components ? resolve() : script.onerror());
        script.onerror = () => { script.remove(); reject(new Error('markdown bundle')); };
        document.head.appendChild(script);
      }).then(() => {
        state.markdownReady = true;
        if (state.current && hasAnswers(state.current)) renderAll();
      }, () => { state.markdownLoad = null; });
    }
    return state.markdownLoad;
  }

  /* The model's thinking, above the answer: open until the answer starts, then collapsed behind its duration. */
  function reasoningView(msg, index) {
    const seconds = msg.thoughtMs / 1000;
    const n = seconds < 10 ? seconds.toFixed(1) : Math.round(seconds);
    const label = Number.isFinite(seconds) ? format(t('thoughtFor'), {n}) : t('thinking');
    return component('dash_html_components', 'Details', {id: `chat-think-${index}`, className: 'chat-reasoning',
      open: !msg.content, children: [component('dash_html_components', 'Summary', {children: label}),
        div({id: `chat-think-text-${index}`, className: 'chat-reasoning-text', children: msg.reasoning})]});
  }

  const hasAnswers = (conversation) => conversation.messages.some((m) => m.role === 'assistant');

  function messageBody(msg, index) {
    if (msg.role === 'user') {
      // User text is shown as typed (no Markdown), like the big chat UIs.
      return [div({className: 'chat-text', children: msg.content}), messageActions(msg, index)];
    }
    const children = msg.reasoning ? [reasoningView(msg, index), answerView(msg, index)] : [answerView(msg, index)];
    if (msg.trimmed) {
      children.push(div({className: 'chat-note chat-note--trimmed', children: format(t('trimmed'), {n: msg.trimmed})}));
    }
    if (msg.stopped) {
      children.push(div({className: 'chat-note', children: t('stopped')}));
    }
    if (msg.status === 'error') {
      children.push(div({className: 'chat-error', role: 'alert', children: [
        div({className: 'chat-error-text', children: (msg.content ? t('interrupted') + ' ' : '') + errorText(msg.error)}),
        component('dash_html_components', 'Button',
          {className: 'chat-retry', 'data-index': String(index), children: t('retry')}),
      ]}));
    }
    if (msg.status !== 'streaming') children.push(messageActions(msg, index));
    return children;
  }

  function messageLayout(msg, index) {
    return div({
      id: `chat-msg-${index}`,
      className: `chat-message chat-message--${msg.role}`,
      'data-role': msg.role,
      'data-status': msg.role === 'assistant' ? msg.status : undefined,
      children: messageBody(msg, index),
    });
  }

  /* Messages are drawn into fixed blocks of BLOCK messages (message i lives in block i / BLOCK), with spare
   * empty blocks after the last one. Dash re-mounts every child of a component whose children change, so
   * appending to one long list would re-mount every rendered message; this way a new turn redraws one block. */
  const blockOf = (index) => Math.floor(index / BLOCK);

  function blockChildren(block) {
    const messages = state.current.messages;
    const children = [];
    for (let i = Math.max(block * BLOCK, state.windowStart); i < Math.min(messages.length, (block + 1) * BLOCK); i++) {
      children.push(messageLayout(messages[i], i));
    }
    return children;
  }

  function redrawBlocks(first, last) {
    for (let block = first; block <= last; block++) setProps(`chat-block-${block}`, {children: blockChildren(block)});
  }

  /* Render the current conversation's tail (about WINDOW messages); earlier ones load on demand. */
  function renderAll() {
    const messages = state.current.messages;
    state.windowStart = blockOf(Math.max(0, messages.length - WINDOW)) * BLOCK;
    state.blockCount = blockOf(messages.length) + SPARE_BLOCKS;
    const blocks = [];
    for (let block = 0; block < state.blockCount; block++) {
      blocks.push(div({id: `chat-block-${block}`, className: 'chat-block', children: blockChildren(block)}));
    }
    setProps('chat-messages', {children: blocks});
    setProps('chat-welcome', {hidden: messages.length > 0});
    updateEarlierButton();
  }

  function loadEarlier() {
    if (state.windowStart === 0) return;
    const end = state.windowStart;
    state.windowStart = Math.max(0, end - WINDOW);
    redrawBlocks(blockOf(state.windowStart), blockOf(end) - 1);
    updateEarlierButton();
  }

  function updateEarlierButton() {
    const n = state.windowStart;
    setProps('chat-earlier', {hidden: n === 0, children: format(t('loadEarlier'), {n: Math.min(n, WINDOW)})});
  }

  function scrollToEnd(force) {
    const box = document.getElementById('chat-scroll');
    if (!box) return;
    // Follow the answer only while the reader is at the bottom; never yank someone reading above.
    if (force || box.scrollHeight - box.scrollTop - box.clientHeight < 80) {
      box.scrollTop = box.scrollHeight;
    }
  }

  function notify(type, text) {
    setProps('global-message', {children: component('feffery_antd_components', 'AntdMessage',
      {content: text, type, key: String(Date.now())})});
  }

  function updateStreamingUI() {
    const busy = !!(state.current && state.streams.has(state.current.id));
    if (busy === state.shownBusy) return;  // every set_props costs a pass over the page's components
    state.shownBusy = busy;
    setProps('chat-stop', {style: {display: busy ? 'inline-flex' : 'none'}});
    setProps('chat-send', {disabled: busy});
  }

  /* ---------- conversations and storage ---------- */

  function blankConversation() {
    const now = Date.now();
    return {id: data().newId(), title: '', createdAt: now, updatedAt: now, messages: []};
  }

  function warnStorage() {
    if (!state.storageWarned) {
      state.storageWarned = true;
      notify('warning', t('storageUnavailable'));
    }
  }

  /* Write one conversation to IndexedDB; on failure (full, private mode) say so once and keep it in memory. */
  function persist(conversation) {
    if (state.memoryOnly) return;
    window.chatStore.put(conversation).catch(warnStorage);
  }

  /* A conversation changed: save it and keep the list current. */
  function touch(conversation) {
    conversation.updatedAt = Date.now();
    if (conversation.messages.length) {
      if (!state.conversations.includes(conversation)) state.conversations.unshift(conversation);
      persist(conversation);
    } else {
      forget(conversation);  // an emptied conversation is the same as a new chat: not listed
    }
    renderList();
  }

  function forget(conversation) {
    const at = state.conversations.indexOf(conversation);
    if (at >= 0) state.conversations.splice(at, 1);
    if (!state.memoryOnly) window.chatStore.remove(conversation.id).catch(warnStorage);
  }

  function show(conversation) {
    if (hasAnswers(conversation)) loadMarkdown();
    state.current = conversation;
    local(CURRENT_KEY, conversation.id);
    cancelEdit();
    renderAll();
    renderList();
    updateStreamingUI();
    setProps('chat-title', {children: conversation.title || t('title')});
    closeSider();  // on phones, picking a chat closes the drawer
    requestAnimationFrame(() => scrollToEnd(true));
  }

  function closeSider() {
    setProps('chat-shell', {className: 'chat-shell'});
  }

  function renderList() {
    const sorted = state.conversations.slice().sort((a, b) => b.updatedAt - a.updatedAt);
    const shown = data().search(sorted, state.search);
    const items = shown.map((c) => div({
      className: 'conv-item' + (state.current && c.id === state.current.id ? ' conv-item--active' : ''),
      'data-id': c.id,
      title: c.title || t('newChat'),
      children: [
        div({className: 'conv-item-title', children: c.title || t('newChat')}),
        div({className: 'conv-item-actions', children: [
          iconButton('conv-rename', t('rename'), 'edit', {'data-id': c.id}),
          iconButton('conv-delete', t('delete'), 'delete', {'data-id': c.id}),
        ]}),
      ],
    }));
    if (!items.length) {
      items.push(div({className: 'conv-empty', children: t(state.search ? 'noMatches' : 'noConversations')}));
    }
    const signature = JSON.stringify(items);
    if (signature === state.shownList) return;  // most saves change nothing visible in the list
    state.shownList = signature;
    setProps('conv-list', {children: items});
  }

  /* Saved conversations; an answer that was streaming when the page went away is kept, marked. */
  function restore(conversation) {
    conversation.messages = conversation.messages.map((m) => (m.status === 'streaming'
      ? Object.assign({}, m, {status: 'error', error: 'reloaded'}) : m));
    return conversation;
  }

  /* The one conversation earlier versions kept in localStorage becomes a normal saved conversation. */
  function migrateLegacy() {
    let messages;
    try {
      messages = JSON.parse(local(LEGACY_KEY) || '[]');
    } catch (e) {
      messages = [];
    }
    if (!Array.isArray(messages) || !messages.length) return null;
    const conversation = blankConversation();
    conversation.messages = messages.filter((m) => m && (m.role === 'user' || m.role === 'assistant')
      && typeof m.content === 'string');
    conversation.title = data().autoTitle((conversation.messages[0] || {}).content);
    return conversation;
  }

  async function loadConversations(wantedId) {
    let saved = [];
    try {
      saved = await window.chatStore.all();
    } catch (e) {
      state.memoryOnly = true;
      warnStorage();
    }
    const legacy = migrateLegacy();
    if (legacy) {
      saved.push(legacy);
      persist(legacy);
      local(LEGACY_KEY, null);
    }
    state.conversations = saved.map(restore);
    const wanted = state.conversations.find((c) => c.id === wantedId) || legacy;
    if (wanted && hasAnswers(wanted)) {
      // Wait a little for Markdown, so the answers do not flash from plain text to formatted.
      await Promise.race([loadMarkdown(), new Promise((resolve) => setTimeout(resolve, MARKDOWN_WAIT_MS))]);
    }
    if (wanted) show(wanted); else renderList();
  }

  function newChat() {
    if (state.current && !state.current.messages.length) return show(state.current);
    show(blankConversation());
  }

  function byId(id) {
    return state.conversations.find((c) => c.id === id);
  }

  function askRename(id) {
    const conversation = byId(id);
    if (!conversation) return;
    state.pending = id;
    setProps('conv-rename-input', {value: conversation.title});
    setProps('conv-rename-modal', {visible: true});
  }

  function askDelete(id) {
    const conversation = byId(id);
    if (!conversation) return;
    state.pending = id;
    setProps('conv-delete-text', {children: format(t('deleteConfirm'), {title: conversation.title || t('newChat')})});
    setProps('conv-delete-modal', {visible: true});
  }

  function deleteConversation(id) {
    const conversation = byId(id);
    if (!conversation) return;
    if (state.streams.has(id)) state.streams.get(id).abort();
    forget(conversation);
    if (conversation === state.current) {
      const next = state.conversations.slice().sort((a, b) => b.updatedAt - a.updatedAt)[0];
      show(next || blankConversation());
    } else {
      renderList();
    }
  }

  /* ---------- export and import (JSON) ---------- */

  function download(text, filename) {
    const url = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
    const link = document.createElement('a');
    link.href = url;
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function stamp() {
    const d = new Date();
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  }

  function exportConversations(conversations, prefix) {
    download(JSON.stringify(data().exportDocument(conversations), null, 1), `${prefix}-${stamp()}.json`);
  }

  /* dcc.Upload gives a data: URL; decode it as UTF-8 text. */
  function uploadText(contents) {
    const base64 = contents.slice(contents.indexOf(',') + 1);
    const bytes = Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
    return new TextDecoder('utf-8').decode(bytes);
  }

  const MAX_IMPORT_MB = 50;

  async function importFile(contents) {
    let imported;
    try {
      if (contents.length * 0.75 > MAX_IMPORT_MB * 1024 * 1024) throw new (data().ImportError)('import_too_large', MAX_IMPORT_MB);
      imported = data().parseExport(uploadText(contents));
    } catch (e) {
      const code = e instanceof data().ImportError ? e.code : 'import_not_json';
      notify('error', format(state.config.errors[code], {detail: e.detail || ''}));
      return;
    }
    const added = data().mergeImported(state.conversations, imported).map(restore);
    if (added.length && !state.memoryOnly) {
      try {
        await window.chatStore.putMany(added);
      } catch (e) {
        warnStorage();
      }
    }
    state.conversations = state.conversations.concat(added);
    notify('success', format(t('imported'), {n: added.length}));
    if (added.length) show(added[0]); else renderList();
  }

  /* ---------- settings ---------- */

  function loadSettings() {
    let saved = {};
    try {
      saved = JSON.parse(local(SETTINGS_KEY) || '{}') || {};
    } catch (e) { /* broken JSON: defaults */ }
    const settings = Object.assign({}, DEFAULT_SETTINGS, {model: state.config.defaultModel}, saved);
    if (!state.config.models.includes(settings.model)) settings.model = state.config.defaultModel;  // allowlist only
    return settings;
  }

  function applyTheme(theme) {
    const dark = theme === 'dark' || (theme === 'system' && window.matchMedia
      && window.matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    setProps('app-theme', {algorithm: dark ? 'dark' : 'default'});
    if (dark !== state.dark) {
      state.dark = dark;
      if (state.current) renderAll();  // code blocks take the matching highlight theme
    }
  }

  function applySettings(settings) {
    state.settings = settings;
    setProps('multi-round-switch', {checked: settings.multiTurn});
    setProps('model-select', {value: settings.model});
    setProps('settings-system-prompt', {value: settings.systemPrompt});
    setProps('settings-temperature', {value: settings.temperature});
    setProps('settings-max-tokens', {value: settings.maxTokens});
    setProps('settings-history-turns', {value: settings.historyTurns});
    setProps('settings-theme', {value: settings.theme});
    applyTheme(settings.theme);
  }

  /* ---------- the request ---------- */

  /* The access code lives in localStorage so the page asks once; in memory when storage is disabled. */
  function storedAccessCode() {
    return local(ACCESS_CODE_KEY) || state.accessCode;
  }

  function storeAccessCode(code) {
    state.accessCode = code;
    local(ACCESS_CODE_KEY, code || null);
  }

  function authHeaders() {
    const code = storedAccessCode();
    return code ? {Authorization: `Bearer ${code}`} : {};
  }

  /* Parse one SSE event block; returns {done}|{error}|{delta, reasoning, finish, usage}. */
  function parseEvent(block) {
    const payload = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (!payload) return null;
    if (payload === '[DONE]') return {done: true};
    const obj = JSON.parse(payload);
    if (obj.error) return {error: obj.error};
    const choice = (obj.choices || [])[0] || {};
    const delta = choice.delta || {};
    return {delta: delta.content || '', reasoning: delta.reasoning_content || '',
      finish: choice.finish_reason || null, usage: obj.usage || null};
  }

  /* Stream the answer at `index` of `conversation`; the screen is updated only while it is shown. */
  async function streamAnswer(conversation, index, body) {
    const controller = new AbortController();
    state.streams.set(conversation.id, controller);
    updateStreamingUI();
    const onScreen = () => state.current === conversation && index >= state.windowStart;
    const startedAt = performance.now();
    let firstTokenAt = null;
    let text = '';
    let reasoning = '';
    let thinkStart = null;   // when the reasoning began and the answer after it began (performance.now())
    let thinkEnd = null;
    let trimmed = 0;
    let finish = null;
    let usage = null;
    let error = null;
    let timer = null;
    let shown = 0;
    let shownReasoning = 0;
    let savedAt = Date.now();

    const render = () => {
      timer = null;
      if (text.length === shown && reasoning.length === shownReasoning) return;
      const msg = conversation.messages[index];
      // The reasoning block appears, or the answer after it starts: the message is redrawn (block collapsed).
      const redraw = reasoning && (!shownReasoning || (text && !shown));
      if (msg && msg.status === 'streaming') {  // a redraw mid-answer (e.g. renderAll) shows it
        msg.content = text;
        if (reasoning) Object.assign(msg, {reasoning, thoughtMs: thinkEnd === null ? undefined : thinkEnd - thinkStart});
      }
      if (onScreen() && msg) {
        if (redraw) {
          setProps(`chat-msg-${index}`, {children: messageBody(msg, index)});
        } else {
          if (reasoning.length !== shownReasoning) setProps(`chat-think-text-${index}`, {children: reasoning});
          if (text.length !== shown) setProps(`chat-md-${index}`, answerText(text, true));
        }
        scrollToEnd(false);
      }
      [shown, shownReasoning] = [text.length, reasoning.length];
      if (Date.now() - savedAt > PARTIAL_SAVE_MS) {  // a reload mid-answer keeps what had arrived
        savedAt = Date.now();
        persist(conversation);
      }
    };
    // The first words show at once; then re-render at most ~30 times a second, less often for long answers
    // (the Markdown re-parse grows with length).
    const schedule = () => {
      const length = text.length + reasoning.length;
      if (timer === null) timer = setTimeout(render, shown + shownReasoning ? Math.min(400, 33 + length / 100) : 0);
    };

    try {
      const response = await fetch(state.config.apiUrl, {
        method: 'POST',
        headers: Object.assign({'Content-Type': 'application/json'}, authHeaders()),
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!response.ok) {
        const payload = await response.json().catch(() => ({}));
        error = payload.error || {code: `http_${response.status}`};
        if (response.status === 401 && state.config.accessCodeRequired) {
          storeAccessCode(null);
          setProps('access-code-modal', {visible: true});
        }
      } else {
        trimmed = Number(response.headers.get('X-Chat-Trimmed-Messages')) || 0;
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        let done = false;
        while (!done) {
          const chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, {stream: true});
          let cut;
          while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
            const event = parseEvent(block);
            if (!event) continue;
            if (event.done) { done = true; break; }
            if (event.error) { error = event.error; done = true; break; }
            if ((event.delta || event.reasoning) && firstTokenAt === null) firstTokenAt = performance.now();
            if (event.reasoning && thinkStart === null) thinkStart = performance.now();
            if (event.delta && thinkStart !== null && thinkEnd === null) thinkEnd = performance.now();
            text += event.delta;
            reasoning += event.reasoning;
            finish = event.finish || finish;
            usage = event.usage || usage;
          }
          schedule();
        }
        if (!done && !error) error = {code: 'stream_interrupted'};
        if (!error && !finish) error = {code: 'stream_interrupted'};
      }
    } catch (exc) {
      if (exc.name !== 'AbortError') error = {code: 'network_error'};
    } finally {
      clearTimeout(timer);
      if (state.leaving) error = {code: 'reloaded'};  // the page is going away, not the user's Stop
      const stopped = controller.signal.aborted && !state.leaving;
      if (state.streams.get(conversation.id) === controller) state.streams.delete(conversation.id);
      const current = conversation.messages[index];
      if (current && current.status === 'streaming') {
        const msg = {role: 'assistant', content: text, status: error ? 'error' : 'done', model: body.model,
          createdAt: Date.now()};
        if (reasoning) Object.assign(msg, {reasoning, thoughtMs: (thinkEnd ?? performance.now()) - thinkStart});
        if (stopped) msg.stopped = true;
        if (trimmed) msg.trimmed = trimmed;
        if (error) msg.error = error.code || 'default';
        if (text || reasoning) {
          msg.stats = answerStats(body.messages, text, reasoning, usage, startedAt, firstTokenAt, performance.now());
        }
        replaceMessage(conversation, index, msg);
        if (onScreen()) scrollToEnd(false);
      }
      updateStreamingUI();
      if (state.config.limited) setProps('usage-refresh', {data: Date.now()});  // the server re-renders what is left
    }
  }

  /* Timings and token usage of one answer: the server's usage when the backend reports it, else an estimate. */
  function answerStats(messages, text, reasoning, usage, startedAt, firstTokenAt, endedAt) {
    const estimate = !usage || usage.estimated;
    const thinking = reasoning ? data().estimateTokens(reasoning) : 0;
    const used = estimate ? {
      prompt_tokens: messages.reduce((sum, m) => sum + data().estimateTokens(m.content), 0),
      completion_tokens: data().estimateTokens(text) + thinking,
      estimated: true,
    } : {prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens};
    // Reasoning tokens are part of the completion: the backend's count when it reports one.
    const reported = !estimate && (usage.completion_tokens_details || {}).reasoning_tokens;
    if (reported || (estimate && thinking)) used.reasoning_tokens = reported || thinking;
    return {
      firstTokenMs: firstTokenAt === null ? null : firstTokenAt - startedAt,
      tokensPerSecond: firstTokenAt === null ? null : data().tokensPerSecond(used.completion_tokens, firstTokenAt, endedAt),
      usage: used,
    };
  }

  function appendMessages(conversation, messages) {
    const start = conversation.messages.length;
    conversation.messages = conversation.messages.concat(messages);
    if (conversation === state.current) {
      const last = blockOf(conversation.messages.length - 1);
      if (last >= state.blockCount) renderAll(); else redrawBlocks(blockOf(start), last);
      if (!start) setProps('chat-welcome', {hidden: true});
    }
    touch(conversation);
  }

  function replaceMessage(conversation, index, msg) {
    conversation.messages = conversation.messages.slice();
    conversation.messages[index] = msg;
    if (conversation === state.current && index >= state.windowStart) {
      setProps(`chat-msg-${index}`, {'data-status': msg.status, children: messageBody(msg, index)});
    }
    touch(conversation);
  }

  /* Keep the first `count` messages of the current conversation and redraw. */
  function truncate(count) {
    state.current.messages = state.current.messages.slice(0, count);
    renderAll();
    touch(state.current);
  }

  async function ask(question) {
    await state.loading;  // a question typed while storage is still read goes into the restored conversation
    const conversation = state.current;
    const s = state.settings;
    const context = data().contextFor(conversation.messages, s.multiTurn, s.historyTurns);
    const system = s.systemPrompt.trim() ? [{role: 'system', content: s.systemPrompt.trim()}] : [];
    const messages = system.concat(context, [{role: 'user', content: question}]);
    if (!conversation.title) {
      conversation.title = data().autoTitle(question);
      setProps('chat-title', {children: conversation.title});
    }
    loadMarkdown();  // normally loaded already (see init)
    appendMessages(conversation, [{role: 'user', content: question, createdAt: Date.now()},
      {role: 'assistant', content: '', status: 'streaming', model: s.model}]);
    scrollToEnd(true);
    const body = {model: s.model, messages, stream: true, stream_options: {include_usage: true},
      temperature: s.temperature};
    if (s.maxTokens) body.max_tokens = s.maxTokens;
    streamAnswer(conversation, conversation.messages.length - 1, body);
  }

  const busy = () => state.streams.has(state.current.id);

  /* Re-ask the question before answer `index`: the last pair is replaced; an earlier failed one is
   * asked again at the end, so no later turn is ever removed. */
  function reask(index) {
    const question = state.current.messages[index - 1];
    if (busy() || !question || question.role !== 'user') return;
    if (index === state.current.messages.length - 1) truncate(index - 1);
    ask(question.content);
  }

  /* Delete the turn (question and answer) that message `index` belongs to. */
  function deleteTurn(index) {
    const messages = state.current.messages;
    if (busy() || !messages[index]) return;
    const start = messages[index].role === 'user' ? index : index - 1;
    const end = messages[start + 1] && messages[start + 1].role === 'assistant' ? start + 2 : start + 1;
    state.current.messages = messages.slice(0, Math.max(start, 0)).concat(messages.slice(end));
    cancelEdit();
    renderAll();
    touch(state.current);
  }

  function startEdit(index) {
    const msg = state.current.messages[index];
    if (busy() || !msg || msg.role !== 'user') return;
    state.editing = index;
    setProps('chat-input', {value: msg.content});
    const number = state.current.messages.slice(0, index + 1).filter((m) => m.role === 'user').length;
    setProps('chat-edit-text', {children: format(t('editing'), {n: number})});
    setProps('chat-edit-banner', {hidden: false});
    const box = document.querySelector('#chat-input textarea, textarea#chat-input');
    if (box) box.focus();
  }

  function cancelEdit() {
    if (state.editing === null) return;
    state.editing = null;
    setProps('chat-edit-banner', {hidden: true});
  }

  async function copyAnswer(index) {
    const text = (state.current.messages[index] || {}).content || '';
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      // Older browsers and plain-http pages have no async clipboard: fall back to a hidden textarea.
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      const ok = document.execCommand('copy');
      area.remove();
      if (!ok) return notify('error', t('copyFailed'));
    }
    notify('success', t('copied'));
  }

  /* ---------- entry points used by clientside callbacks and DOM listeners ---------- */

  const chat = {
    init: function (config) {
      state.config = config;
      applySettings(loadSettings());
      state.settingsReady = true;
      const wantedId = local(CURRENT_KEY);  // read before the blank placeholder below takes its place
      if (!state.current) show(blankConversation());
      state.loading = loadConversations(wantedId);
      if (config.accessCodeRequired && !storedAccessCode()) setProps('access-code-modal', {visible: true});
      // A saved conversation will need Markdown now (fetch it while storage is read); a new visitor's first
      // screen has no answers, so it is fetched once the page is idle, before the first one.
      if (wantedId) loadMarkdown();
      else if (window.requestIdleCallback) requestIdleCallback(loadMarkdown, {timeout: 2000});
      else setTimeout(loadMarkdown, 500);
      if (window.matchMedia) {
        window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(state.settings.theme));
      }
      return dc().no_update;
    },
    track: function (multiTurn, model, systemPrompt, temperature, maxTokens, historyTurns, theme) {
      // Until init has applied the saved settings, the controls still show the defaults: ignore them.
      if (!state.settingsReady) return dc().no_update;
      state.settings = {multiTurn: !!multiTurn, model, systemPrompt: systemPrompt || '',
        temperature: Number.isFinite(temperature) ? temperature : DEFAULT_SETTINGS.temperature,
        maxTokens: maxTokens || null, historyTurns: historyTurns || DEFAULT_SETTINGS.historyTurns,
        theme: theme || 'system'};
      local(SETTINGS_KEY, JSON.stringify(state.settings));
      applyTheme(state.settings.theme);
      return dc().no_update;
    },
    preset: function (name) {
      if (!name) return dc().no_update;
      return name === 'none' ? '' : state.config.presets[name];
    },
    language: function (lang) {
      if (lang && state.config && lang !== state.config.lang) window.location.href = state.config.langUrl + lang;
      return dc().no_update;
    },
    send: function (nClicks, value) {
      if (!nClicks || busy()) return dc().no_update;
      const question = (value || '').trim();
      if (!question) {
        notify('warning', t('emptyQuestion'));
        return dc().no_update;
      }
      if (question.length > state.config.maxInputChars) {
        notify('error', format(t('tooLong'), {n: question.length, max: state.config.maxInputChars}));
        return dc().no_update;  // keep the text so nothing typed is lost
      }
      if (state.editing !== null) {  // an edited question replaces itself and every later turn
        const index = state.editing;
        cancelEdit();
        truncate(index);
      }
      ask(question);
      return '';
    },
    stop: function (nClicks) {
      if (nClicks && state.streams.has(state.current.id)) state.streams.get(state.current.id).abort();
      return dc().no_update;
    },
    clear: function (nClicks) {
      if (!nClicks) return dc().no_update;
      chat.stop(1);
      truncate(0);
      return dc().no_update;
    },
    newChat: function (nClicks) {
      if (nClicks) newChat();
      return dc().no_update;
    },
    search: function (value) {
      state.search = value || '';
      if (state.config) renderList();
      return dc().no_update;
    },
    rename: function (okCounts, title) {
      const conversation = byId(state.pending);
      if (okCounts && conversation && (title || '').trim()) {
        conversation.title = title.trim();
        touch(conversation);
        if (conversation === state.current) setProps('chat-title', {children: conversation.title});
      }
      return dc().no_update;
    },
    remove: function (okCounts) {
      if (okCounts && state.pending) deleteConversation(state.pending);
      return dc().no_update;
    },
    toggleSider: function (nClicks) {
      if (!nClicks) return dc().no_update;
      return document.getElementById('chat-shell').classList.contains('chat-shell--sider-open')
        ? 'chat-shell' : 'chat-shell chat-shell--sider-open';
    },
    openSettings: function (nClicks) {
      return nClicks ? true : dc().no_update;
    },
    exportMarkdown: function (nClicks) {
      // The server builds the Markdown file (chatcore.export); it gets the conversation only on this click.
      const c = state.current;
      if (!nClicks || !c.messages.length) return dc().no_update;
      return {title: c.title, model: state.settings.model, messages: c.messages};
    },
    exportJson: function (nClicks) {
      if (nClicks && state.current.messages.length) exportConversations([state.current], 'chat');
      return dc().no_update;
    },
    backup: function (nClicks) {
      if (nClicks) exportConversations(state.conversations, 'chat-backup');
      return dc().no_update;
    },
    importFile: function (contents) {
      if (!contents) return dc().no_update;
      setProps('backup-import', {contents: null});  // the same file can be picked again
      importFile(contents);
      return dc().no_update;
    },
    saveAccessCode: function (nClicks, code) {
      if (!nClicks || !code) return dc().no_update;
      storeAccessCode(code.trim());
      // If a question just failed for want of the code, ask it again now.
      const last = state.current.messages.length - 1;
      if (last > 0 && state.current.messages[last].status === 'error') reask(last);
      return false;
    },
    state,
  };

  /* Enter sends, Shift+Enter is a newline, and Enter that confirms an IME composition does nothing. */
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    const target = event.target;
    if (!target || !target.closest || !target.closest('#chat-input, .chat-input')) return;
    event.preventDefault();
    const send = document.getElementById('chat-send');
    if (send && !send.disabled) send.click();
  }, true);

  // One listener for every button drawn by this file (messages and list items are re-rendered often).
  const CLICKS = [
    ['.chat-retry', (el) => reask(Number(el.dataset.index))],
    ['.msg-regenerate', (el) => reask(Number(el.dataset.index))],
    ['.msg-copy', (el) => copyAnswer(Number(el.dataset.index))],
    ['.msg-edit', (el) => startEdit(Number(el.dataset.index))],
    ['.msg-delete', (el) => deleteTurn(Number(el.dataset.index))],
    ['#chat-edit-cancel', () => { cancelEdit(); setProps('chat-input', {value: ''}); }],
    ['#chat-earlier', () => loadEarlier()],
    ['.conv-rename', (el) => askRename(el.dataset.id)],
    ['.conv-delete', (el) => askDelete(el.dataset.id)],
    ['.conv-item', (el) => { const c = byId(el.dataset.id); if (c && c !== state.current) show(c); else closeSider(); }],
    ['#conv-backdrop', () => closeSider()],
  ];
  document.addEventListener('click', (event) => {
    if (!state.config || !event.target.closest) return;
    for (const [selector, action] of CLICKS) {
      const element = event.target.closest(selector);
      if (element) {
        action(element);
        return;
      }
    }
  });

  // Scrolling near the top of a long conversation renders the earlier messages.
  document.addEventListener('scroll', (event) => {
    if (event.target.id === 'chat-scroll' && event.target.scrollTop < 200 && state.windowStart > 0) loadEarlier();
  }, true);

  // Leaving the page ends the answers: Chrome can keep a fetch of a page it navigated away from alive,
  // which would leave the model generating (and billing) for nobody.
  window.addEventListener('pagehide', () => {
    state.leaving = true;
    state.streams.forEach((controller) => controller.abort());
  });

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.chat = chat;
})();
