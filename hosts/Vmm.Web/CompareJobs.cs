using System.Collections.Concurrent;
using Vmm.Hosting;

namespace Vmm.Web;

/// <summary>A comparison started from the compare page or POST /api/compare/jobs: its progress, then its report or its error.</summary>
public sealed class CompareJob
{
    private int _done;

    internal CompareJob(string id, Comparison comparison)
    {
        Id = id;
        Comparison = comparison;
        Total = comparison.RunCount;
    }

    public string Id { get; }

    public Comparison Comparison { get; }

    public int Total { get; }

    public int Done => Volatile.Read(ref _done);

    /// <summary>The last run that finished ("boot on tdx-ci+none"), for the progress line.</summary>
    public string? Last { get; private set; }

    public ComparisonReport? Report { get; private set; }

    public WebProblemException? Error { get; private set; }

    public bool Finished => Report is not null || Error is not null;

    internal void Progress(ComparisonProgress progress)
    {
        Last = $"{progress.Workload} on {progress.Stack}";
        InterlockedMax(ref _done, progress.Done);
    }

    internal void Succeed(ComparisonReport report) => Report = report;

    internal void Fail(WebProblemException error) => Error = error;

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
    }
}

/// <summary>The comparisons this server started, the most recent <see cref="Kept"/> of them, by id (a random, unguessable string).</summary>
public sealed class CompareJobs(Engine engine)
{
    public const int Kept = 32;

    private readonly ConcurrentDictionary<string, CompareJob> _jobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    /// <summary>Starts <paramref name="comparison"/>; a full <see cref="RunGate"/> or too big a comparison throws <see cref="WebProblemException"/> here.</summary>
    public CompareJob Start(Comparison comparison)
    {
        var job = new CompareJob(Guid.NewGuid().ToString("N"), comparison);
        var task = engine.Compare(comparison, job.Progress, CancellationToken.None);
        _jobs[job.Id] = job;
        _order.Enqueue(job.Id);
        while (_order.Count > Kept && _order.TryDequeue(out var old)) _jobs.TryRemove(old, out _);
        _ = task.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) job.Succeed(t.Result);
            else job.Fail(ErrorPages.ProblemOf(t.Exception!.GetBaseException()));
        }, TaskScheduler.Default);
        return job;
    }

    public CompareJob? Find(string id) => _jobs.GetValueOrDefault(id);
}
