/* Chat page logic in one namespace: the streaming reader, message rendering and keyboard handling.
 * Answers are read with fetch + ReadableStream from /v1/chat/completions (OpenAI SSE) and the text is
 * accumulated here, so a burst of chunks can never be dropped by React batching; the page only ever
 * receives the full text of the one message that changed. */
(function () {
  'use strict';

  const state = {
    config: null,        // from the chat-config store: strings, markdown props, limits
    history: [],         // [{role, content, status, stopped, error}] mirrors the chat-history store
    controller: null,    // AbortController of the answer being streamed
    settings: {multiTurn: true, model: null},  // follows #multi-round-switch and #model-select
    accessCode: null,
  };
  const ACCESS_CODE_KEY = 'chat-access-code';
  const CONVERSATION_KEY = 'chat-conversation';
  const PARTIAL_SAVE_MS = 1000;  // how often a streaming answer is written to storage

  const dc = () => window.dash_clientside;
  const setProps = (id, props) => dc().set_props(id, props);
  const t = (key) => (state.config && state.config.strings[key]) || key;

  function component(namespace, type, props) {
    return {namespace, type, props};
  }
  const div = (props) => component('dash_html_components', 'Div', props);

  /* ---------- rendering ---------- */

  const CODE = /(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`)/;
  const REMOTE_IMAGE = /!\[([^\]]*)\]\((\s*<?(?:https?:)?\/\/)/gi;

  /* Remote images become plain links: an image URL in a prompt-injected answer could carry data out.
   * (The Content-Security-Policy also refuses remote images; this keeps them visible and clickable.) */
  function displayMarkdown(text) {
    return text.split(CODE).map((part, i) => (i % 2 ? part : part.replace(REMOTE_IMAGE, '[🖼 $1]($2'))).join('');
  }

  function messageBody(msg, index) {
    if (msg.role === 'user') {
      // User text is shown as typed (no Markdown), like the big chat UIs.
      return [div({className: 'chat-text', children: msg.content})];
    }
    const children = [component('feffery_markdown_components', 'FefferyMarkdown', Object.assign(
      {id: `chat-md-${index}`, markdownStr: displayMarkdown(msg.content), placeholder: msg.status === 'streaming' ? '…' : ''},
      state.config.markdownProps))];
    if (msg.trimmed) {
      children.push(div({className: 'chat-note chat-note--trimmed', children: t('trimmed').replace('{n}', msg.trimmed)}));
    }
    if (msg.stopped) {
      children.push(div({className: 'chat-note', children: t('stopped')}));
    }
    if (msg.status === 'error') {
      children.push(div({className: 'chat-error', role: 'alert', children: [
        div({className: 'chat-error-text', children: (msg.content ? t('interrupted') + ' ' : '') + msg.error}),
        component('dash_html_components', 'Button',
          {className: 'chat-retry', 'data-index': String(index), children: t('retry')}),
      ]}));
    }
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

  function saveHistory() {
    setProps('chat-history', {data: state.history});
    persist(state.history);
  }

  /* The conversation survives a reload: it is kept in localStorage. When storage is full or disabled
   * (private mode) the page says so once and keeps working in memory. */
  function persist(history) {
    try {
      localStorage.setItem(CONVERSATION_KEY, JSON.stringify(history));
    } catch (e) {
      if (!state.storageWarned) {
        state.storageWarned = true;
        notify('warning', t('storageUnavailable'));
      }
    }
  }

  /* The saved conversation; an answer that was streaming when the page went away is kept, marked. */
  function loadSaved() {
    let saved = [];
    try {
      saved = JSON.parse(localStorage.getItem(CONVERSATION_KEY) || '[]');
    } catch (e) {
      return [];
    }
    if (!Array.isArray(saved)) return [];
    return saved.filter((m) => m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string')
      .map((m) => (m.status === 'streaming' ? Object.assign({}, m, {status: 'error', error: t('reloaded')}) : m));
  }

  function appendMessages(messages) {
    const start = state.history.length;
    const layouts = messages.map((m, i) => messageLayout(m, start + i));
    setProps('chat-messages', {children: new (dc().Patch)().extend([], layouts).build()});
    state.history = state.history.concat(messages);
    saveHistory();
  }

  function replaceMessage(index, msg) {
    state.history = state.history.slice();
    state.history[index] = msg;
    setProps(`chat-msg-${index}`, {'data-status': msg.status, children: messageBody(msg, index)});
    saveHistory();
  }

  function renderAll(history) {
    state.history = history.slice();
    setProps('chat-messages', {children: state.history.map(messageLayout)});
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

  function setStreaming(on) {
    setProps('chat-stop', {style: {display: on ? 'inline-flex' : 'none'}});
    setProps('chat-send', {disabled: on});
  }

  /* ---------- the request ---------- */

  /* The turns the model needs: with multi-turn on, every earlier question that got an answer. */
  function contextFor(history, multiTurn) {
    if (!multiTurn) return [];
    const out = [];
    for (let i = 0; i + 1 < history.length; i++) {
      const question = history[i];
      const answer = history[i + 1];
      if (question.role === 'user' && answer.role === 'assistant' && answer.content) {
        out.push({role: 'user', content: question.content}, {role: 'assistant', content: answer.content});
        i++;
      }
    }
    return out;
  }

  /* The access code lives in localStorage so the page asks once; in memory when storage is disabled. */
  function storedAccessCode() {
    try {
      return localStorage.getItem(ACCESS_CODE_KEY) || state.accessCode;
    } catch (e) {
      return state.accessCode;
    }
  }

  function storeAccessCode(code) {
    state.accessCode = code;
    try {
      if (code) localStorage.setItem(ACCESS_CODE_KEY, code); else localStorage.removeItem(ACCESS_CODE_KEY);
    } catch (e) { /* private mode: memory only */ }
  }

  function authHeaders() {
    const code = storedAccessCode();
    return code ? {Authorization: `Bearer ${code}`} : {};
  }

  function errorText(error) {
    if (error.code === 'reloaded') return t('reloaded');
    const messages = state.config.errors;
    return messages[error.code] || messages.default;
  }

  /* Parse one SSE event block; returns {done}|{error}|{delta, finish}. */
  function parseEvent(block) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (!data) return null;
    if (data === '[DONE]') return {done: true};
    const obj = JSON.parse(data);
    if (obj.error) return {error: obj.error};
    const choice = (obj.choices || [])[0] || {};
    return {delta: (choice.delta && choice.delta.content) || '', finish: choice.finish_reason || null};
  }

  async function streamAnswer(index, body) {
    const controller = new AbortController();
    state.controller = controller;
    setStreaming(true);
    let text = '';
    let trimmed = 0;
    let finish = null;
    let error = null;
    let timer = null;
    let shown = 0;

    let savedAt = Date.now();
    const show = () => {
      timer = null;
      if (text.length === shown) return;
      shown = text.length;
      setProps(`chat-md-${index}`, {markdownStr: displayMarkdown(text)});
      scrollToEnd(false);
      if (Date.now() - savedAt > PARTIAL_SAVE_MS) {  // a reload mid-answer keeps what had arrived
        savedAt = Date.now();
        const partial = state.history.slice();
        partial[index] = Object.assign({}, partial[index], {content: text});
        persist(partial);
      }
    };
    // The first words show at once; then re-render at most ~30 times a second, less often for long answers
    // (the Markdown re-parse grows with length).
    const schedule = () => {
      if (timer === null) timer = setTimeout(show, shown === 0 ? 0 : Math.min(400, 33 + text.length / 100));
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
            text += event.delta;
            finish = event.finish || finish;
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
      if (state.controller === controller) {
        state.controller = null;
        setStreaming(false);
      }
      if (index < state.history.length && state.history[index].status === 'streaming') {
        const msg = {role: 'assistant', content: text, status: error ? 'error' : 'done'};
        if (stopped) msg.stopped = true;
        if (trimmed) msg.trimmed = trimmed;
        if (error) msg.error = errorText(error);
        replaceMessage(index, msg);
        scrollToEnd(false);
      }
    }
  }

  function ask(question) {
    const settings = state.settings;
    const context = contextFor(state.history, settings.multiTurn);
    const messages = context.concat([{role: 'user', content: question}]);
    appendMessages([{role: 'user', content: question}, {role: 'assistant', content: '', status: 'streaming'}]);
    scrollToEnd(true);
    streamAnswer(state.history.length - 1, {model: settings.model, messages, stream: true});
  }

  function stop() {
    if (state.controller) state.controller.abort();
  }

  /* ---------- entry points used by clientside callbacks and DOM listeners ---------- */

  const chat = {
    init: function (config) {
      state.config = config;
      const saved = loadSaved();
      if (saved.length && state.history.length === 0) {
        renderAll(saved);
        saveHistory();
        scrollToEnd(true);
      }
      if (config.accessCodeRequired && !storedAccessCode()) setProps('access-code-modal', {visible: true});
      return dc().no_update;
    },
    track: function (multiTurn, model) {
      state.settings = {multiTurn: !!multiTurn, model};
      return dc().no_update;
    },
    send: function (nClicks, value) {
      if (!nClicks || state.controller) return dc().no_update;
      const question = (value || '').trim();
      if (!question) {
        notify('warning', t('emptyQuestion'));
        return dc().no_update;
      }
      if (question.length > state.config.maxInputChars) {
        notify('error', t('tooLong').replace('{n}', question.length).replace('{max}', state.config.maxInputChars));
        return dc().no_update;  // keep the text so nothing typed is lost
      }
      ask(question);
      return '';
    },
    stop: function (nClicks) {
      if (nClicks) stop();
      return dc().no_update;
    },
    clear: function (nClicks) {
      if (!nClicks) return [dc().no_update, dc().no_update];
      stop();
      state.history = [];
      persist([]);
      return [[], []];
    },
    retry: function (index) {
      // Re-ask the question before a failed answer, without retyping. The last failed pair is replaced;
      // an earlier one is asked again at the end, so no later turn is ever removed.
      const question = state.history[index - 1];
      if (state.controller || !question || question.role !== 'user') return;
      if (index === state.history.length - 1) {
        renderAll(state.history.slice(0, index - 1));
        saveHistory();
      }
      ask(question.content);
    },
    saveAccessCode: function (nClicks, code) {
      if (!nClicks || !code) return dc().no_update;
      storeAccessCode(code.trim());
      // If a question just failed for want of the code, ask it again now.
      const last = state.history.length - 1;
      if (last > 0 && state.history[last].status === 'error') chat.retry(last);
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

  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('.chat-retry');
    if (!button) return;
    chat.retry(Number(button.dataset.index));
  });

  // Leaving the page ends the answer: Chrome can keep a fetch of a page it navigated away from alive,
  // which would leave the model generating (and billing) for nobody.
  window.addEventListener('pagehide', () => {
    state.leaving = true;
    stop();
  });

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.chat = chat;
})();
