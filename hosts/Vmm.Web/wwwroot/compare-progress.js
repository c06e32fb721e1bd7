// A running comparison's progress bar: polls the job and reloads the page once it has finished.
(function () {
  const section = document.getElementById('progress');
  if (!section) return;
  const bar = document.getElementById('progress-bar');
  const text = document.getElementById('progress-text');
  const url = '/api/compare/jobs/' + section.dataset.job;
  function poll() {
    fetch(url, { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        if (job.finished) { location.reload(); return; }
        bar.max = job.total; bar.value = job.done;
        text.textContent = job.done + ' of ' + job.total + ' runs' + (job.last ? ', last: ' + job.last : '');
        setTimeout(poll, 250);
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 250);
})();
