using System.Globalization;

namespace Vmm.Hosting;

/// <summary>
/// The <see cref="Index"/>-th of <see cref="Count"/> disjoint slices of a comparison's runs (<c>vmm compare --shard I/N</c>).
/// Runs are numbered in the comparison's order (workload, then stack, then seed: run k = (w × stacks + s) × repeat + r)
/// and run k belongs to shard k mod N: a pure function of the comparison, I and N, so every machine agrees on the
/// slices without talking to the others, and consecutive runs (one workload's stacks) spread over all shards.
/// </summary>
public readonly record struct ComparisonShard(int Index, int Count)
{
    /// <summary>The most shards a comparison can be cut into (a job array this long is already unusual).</summary>
    public const int MaxCount = 1_000_000;

    /// <summary>The whole comparison as one shard.</summary>
    public static ComparisonShard Whole { get; } = new(0, 1);

    /// <summary>"I/N" with 0 ≤ I &lt; N, as Slurm's SLURM_ARRAY_TASK_ID and Kubernetes' JOB_COMPLETION_INDEX count; a <see cref="ComparisonException"/> says what is wrong.</summary>
    public static ComparisonShard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !int.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            throw new ComparisonException($"--shard: expected I/N, the I-th of N shards counted from 0 (e.g. 0/4 ... 3/4), not \"{text}\"");
        if (count is < 1 or > MaxCount)
            throw new ComparisonException($"--shard {text}: N is the number of shards, 1 to {MaxCount}, not {count}");
        if (index >= count)
            throw new ComparisonException($"--shard {text}: I counts from 0 to N-1 (0/{count} ... {count - 1}/{count}), as SLURM_ARRAY_TASK_ID with --array=0-{count - 1} and JOB_COMPLETION_INDEX do; not {index}");
        return new ComparisonShard(index, count);
    }

    /// <summary>Whether run <paramref name="run"/> (in the comparison's order) is this shard's.</summary>
    public bool Owns(int run) => run % Count == Index;

    /// <summary>This shard's runs out of <paramref name="total"/>, in order.</summary>
    public IReadOnlyList<int> Runs(int total)
    {
        var runs = new List<int>(Math.Max(0, (total - Index + Count - 1) / Count));
        for (var run = Index; run < total; run += Count) runs.Add(run);
        return runs;
    }

    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>
/// What one run of a comparison produced, before any averaging: <see cref="ComparisonRunner.Report"/> builds the report
/// from every run's result, so a shard file carries these and a merge feeds them back unchanged.
/// </summary>
/// <param name="Run">The run's number in the comparison's order (<see cref="ComparisonShard"/>).</param>
public sealed record ComparisonRunResult(
    int Run,
    string Workload,
    string Stack,
    int Seed,
    IReadOnlyDictionary<string, double> Metrics,
    double WallMilliseconds,
    int Steps,
    IReadOnlyDictionary<string, double> ModelledNanosecondsByKind);

/// <summary>One shard's runs of a comparison of <see cref="TotalRuns"/> runs, and how long the shard took.</summary>
public sealed record ComparisonShardResult(ComparisonShard Shard, int TotalRuns, IReadOnlyList<ComparisonRunResult> Results, TimeSpan WallTime);
