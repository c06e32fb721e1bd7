namespace Vmm.Hosting;

/// <summary>One run of a planned comparison: its scenario's step count and its estimated time on one core.</summary>
public sealed record PlannedRun(int Run, string Workload, string Stack, int Seed, int Steps, double EstimatedMilliseconds);

/// <summary>
/// What a comparison would cost (<c>vmm compare --plan</c>): every run with its step count (from the workloads'
/// scenarios, exact) and an estimate of its time on one core: its steps × its workload's time per step, measured
/// by running each workload twice under the baseline (<see cref="CalibrationStack"/>; the faster run counts), so stacks are taken to cost alike.
/// </summary>
public sealed record ComparisonPlan(
    Comparison Comparison,
    IReadOnlyList<PlannedRun> Runs,
    string CalibrationStack,
    IReadOnlyDictionary<string, double> MillisecondsPerStep)
{
    /// <summary>The work a shard should have at least, so that starting it (a process, the plugins, a scheduler slot) is a small part of it.</summary>
    public static TimeSpan TargetPerShard { get; } = TimeSpan.FromMinutes(10);

    public double EstimatedMilliseconds => Runs.Sum(r => r.EstimatedMilliseconds);

    /// <summary>The estimated time on one core of the costliest of <paramref name="count"/> shards (<see cref="ComparisonShard"/>'s slices).</summary>
    public double LargestShardMilliseconds(int count) =>
        Runs.GroupBy(r => r.Run % count).Select(g => g.Sum(r => r.EstimatedMilliseconds)).DefaultIfEmpty(0).Max();

    /// <summary>Enough shards for about <see cref="TargetPerShard"/> of one core's work each, and no more shards than runs.</summary>
    public int SuggestedShards =>
        (int)Math.Clamp(Math.Ceiling(EstimatedMilliseconds / TargetPerShard.TotalMilliseconds), 1, Math.Max(1, Runs.Count));
}

public sealed partial class ComparisonRunner
{
    /// <summary>Plans <paramref name="comparison"/> (<see cref="ComparisonPlan"/>): generates its scenarios and times each workload once under the baseline.</summary>
    public ComparisonPlan Plan(Comparison comparison, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        Check(comparison);
        var shared = comparison.Options.Select(o => ToOption(o, "--option")).ToList();
        var (needs, variants, generated) = GenerateScenarios(comparison, shared, cancellationToken: cancellationToken);
        var baseline = comparison.Stacks.ToList().FindIndex(s => s.Label == comparison.Baseline);
        var calibration = comparison with { Stacks = [comparison.Stacks[baseline]], Repeat = 1, Parallelism = 1, DumpDirectory = null };

        // A workload's first run also pays for compiling its code paths, so each is timed twice and the faster counts.
        var perStep = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var run in RunEach(calibration, ComparisonShard.Whole, cancellationToken).Concat(RunEach(calibration, ComparisonShard.Whole, cancellationToken)))
        {
            var w = comparison.Workloads.ToList().IndexOf(run.Workload);
            var steps = generated[w, 0, variants.IndexOf(needs[baseline])].Scenario.Steps.Count;
            var timed = run.WallMilliseconds / Math.Max(1, steps);
            perStep[run.Workload] = perStep.TryGetValue(run.Workload, out var earlier) ? Math.Min(earlier, timed) : timed;
        }

        var runs = new List<PlannedRun>(comparison.RunCount);
        for (var index = 0; index < comparison.RunCount; index++)
        {
            var (w, s, r) = Decompose(index, comparison);
            var steps = generated[w, r, variants.IndexOf(needs[s])].Scenario.Steps.Count;
            var workload = comparison.Workloads[w];
            runs.Add(new PlannedRun(index, workload, comparison.Stacks[s].Label, comparison.Seed + r, steps, steps * perStep[workload]));
        }
        return new ComparisonPlan(comparison, runs, comparison.Baseline, perStep);
    }
}
