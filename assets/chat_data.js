/* Pure conversation logic (no DOM, no storage): titles, the context sent to the model, token estimates,
 * search, and the JSON export/import format. Exposed as window.chatData; tests call it in the browser. */
(function () {
  'use strict';

  const FORMAT = 'chat-app-conversations';
  const VERSION = 1;
  const TITLE_CHARS = 30;
  const ROLES = ['user', 'assistant'];
  const STATUSES = ['done', 'error', 'streaming'];
  const CJK = /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]/g;

  /* A fresh conversation id; crypto.randomUUID needs a secure context, which plain-http deployments lack. */
  function newId() {
    return 'c-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  /* A title from the first question: its first non-empty line, Markdown marks dropped, at most 30 characters. */
  function autoTitle(question) {
    const line = String(question || '').split('\n').map((l) => l.replace(/^[\s#>*\-`]+/, '').trim())
      .find((l) => l) || '';
    const chars = Array.from(line.replace(/\s+/g, ' '));
    return chars.length > TITLE_CHARS ? chars.slice(0, TITLE_CHARS).join('') + '…' : chars.join('');
  }

  /* Rough token count (the server uses the same rule): one per CJK character, one per 4 other characters. */
  function estimateTokens(text) {
    const cjk = (String(text).match(CJK) || []).length;
    return cjk + Math.floor((String(text).length - cjk + 3) / 4) + 1;
  }

  /* The earlier turns the model sees: none with multi-turn off, else the last `maxTurns` answered pairs
   * (searched from the end, so a long conversation costs only what is sent). */
  function contextFor(history, multiTurn, maxTurns) {
    if (!multiTurn) return [];
    const out = [];
    for (let i = history.length - 1; i > 0 && (!maxTurns || out.length < 2 * maxTurns); i--) {
      const question = history[i - 1];
      const answer = history[i];
      if (question.role === 'user' && answer.role === 'assistant' && answer.content) {
        out.unshift({role: 'user', content: question.content}, {role: 'assistant', content: answer.content});
        i--;
      }
    }
    return out;
  }

  /* Conversations whose title or any message contains the query (case-insensitive). */
  function search(conversations, query) {
    const q = String(query || '').trim().toLowerCase();
    if (!q) return conversations;
    return conversations.filter((c) => (c.title || '').toLowerCase().includes(q)
      || c.messages.some((m) => m.content.toLowerCase().includes(q)));
  }

  /* The export file: one format for a single conversation and for a backup of all of them. */
  function exportDocument(conversations, now) {
    return {format: FORMAT, version: VERSION, exportedAt: new Date(now || Date.now()).toISOString(), conversations};
  }

  class ImportError extends Error {
    constructor(code, detail) {
      super(`${code}${detail === undefined ? '' : ': ' + detail}`);
      this.code = code;
      this.detail = detail === undefined ? '' : String(detail);
    }
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const isTime = (v) => v === undefined || (typeof v === 'number' && isFinite(v));

  /* Check one imported conversation; throws ImportError naming the first bad field. */
  function checkConversation(c, path) {
    const bad = (field) => { throw new ImportError('import_bad_format', `${path}.${field}`); };
    if (!isObject(c)) bad('(not an object)');
    if (typeof c.id !== 'string' || !c.id) bad('id');
    if (typeof c.title !== 'string') bad('title');
    if (!isTime(c.createdAt)) bad('createdAt');
    if (!isTime(c.updatedAt)) bad('updatedAt');
    if (!Array.isArray(c.messages)) bad('messages');
    c.messages.forEach((m, j) => {
      if (!isObject(m) || !ROLES.includes(m.role)) bad(`messages[${j}].role`);
      if (typeof m.content !== 'string') bad(`messages[${j}].content`);
      if (m.reasoning !== undefined && typeof m.reasoning !== 'string') bad(`messages[${j}].reasoning`);
      if (m.status !== undefined && !STATUSES.includes(m.status)) bad(`messages[${j}].status`);
      if (m.stats !== undefined && !isObject(m.stats)) bad(`messages[${j}].stats`);
    });
  }

  /* Parse an export file; returns its conversations or throws ImportError (nothing is half-imported). */
  function parseExport(text) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new ImportError('import_not_json');
    }
    if (!isObject(doc) || doc.format !== FORMAT) throw new ImportError('import_bad_format', 'format');
    if (typeof doc.version !== 'number' || doc.version > VERSION) throw new ImportError('import_too_new', doc.version);
    if (!Array.isArray(doc.conversations)) throw new ImportError('import_bad_format', 'conversations');
    if (!doc.conversations.length) throw new ImportError('import_empty');
    doc.conversations.forEach((c, i) => checkConversation(c, `conversations[${i}]`));
    return doc.conversations;
  }

  /* Merge imported conversations into the existing ones: identical ones are skipped, a different one
   * with a taken id gets a new id, so an import never overwrites anything. Returns the ones to add. */
  function mergeImported(existing, imported) {
    const byId = new Map(existing.map((c) => [c.id, JSON.stringify(c)]));
    const added = [];
    for (const c of imported) {
      const copy = JSON.parse(JSON.stringify(c));
      if (byId.has(copy.id)) {
        if (byId.get(copy.id) === JSON.stringify(copy)) continue;
        copy.id = newId();
      }
      byId.set(copy.id, JSON.stringify(copy));
      added.push(copy);
    }
    return added;
  }

  /* Tokens per second of an answer from its timings; null when too short to tell. */
  function tokensPerSecond(completionTokens, firstTokenAt, endedAt) {
    const seconds = (endedAt - firstTokenAt) / 1000;
    return seconds > 0.05 && completionTokens > 1 ? (completionTokens - 1) / seconds : null;
  }

  window.chatData = {FORMAT, VERSION, newId, autoTitle, estimateTokens, contextFor, search, exportDocument,
    parseExport, mergeImported, tokensPerSecond, ImportError};
})();
