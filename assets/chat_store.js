/* Conversations in the browser's IndexedDB (one record per conversation), as window.chatStore.
 * Every call returns a Promise; callers fall back to memory when it rejects (private mode, quota). */
(function () {
  'use strict';

  const DB_NAME = 'chat-app';
  const STORE = 'conversations';
  let opening = null;

  function open() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE, {keyPath: 'id'});
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return opening;
  }

  /* Run `work(store)` in one transaction; resolves with the last request's result once it commits. */
  function transaction(mode, work) {
    return open().then((db) => new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
    }));
  }

  window.chatStore = {
    all: () => transaction('readonly', (store) => store.getAll()),
    put: (conversation) => transaction('readwrite', (store) => store.put(conversation)),
    putMany: (conversations) => transaction('readwrite', (store) => { conversations.forEach((c) => store.put(c)); }),
    remove: (id) => transaction('readwrite', (store) => store.delete(id)),
  };
})();
