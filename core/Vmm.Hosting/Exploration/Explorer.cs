using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting.Exploration;

/// <summary>How long a search may run: a wall time, a number of sequences, or both (whichever ends first).</summary>
public readonly record struct ExploreBudget(TimeSpan? Time, int? Sequences)
{
    public static ExploreBudget Default { get; } = new(TimeSpan.FromSeconds(60), null);

    /// <summary>Reads --budget: "60s", "5m", "1h", "500ms" (a time), or "2000" (sequences).</summary>
    public static ExploreBudget Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var sequences) && sequences > 0) return new(null, sequences);
        foreach (var (suffix, scale) in new[] { ("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0) })
            if (value.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(value[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) && amount > 0)
                return new(TimeSpan.FromSeconds(amount * scale), null);
        throw new ExploreException($"--budget: expected a time (60s, 5m, 1h) or a number of sequences (2000), not \"{NameHints.Shorten(text)}\"");
    }

    public override string ToString() => Sequences is { } n ? $"{n} sequences" : Time is { } t ? $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s" : "none";
}

/// <summary>What to explore: the design, the goal and the search's bounds.</summary>
public sealed record ExploreOptions
{
    public required Stack Stack { get; init; }
    public ExploreGoal Goal { get; init; } = ExploreGoal.Any;
    public ExploreBudget Budget { get; init; } = ExploreBudget.Default;
    public int Seed { get; init; } = 1;
    /// <summary>The most steps of a sequence (search), or the depth enumerated (exhaustive).</summary>
    public int? Depth { get; init; }
    /// <summary>The host-side actors that may act; the guest always does.</summary>
    public IReadOnlySet<ExploreActor> Actors { get; init; } = ExploreOp.ActorNames.Values.ToHashSet();
    /// <summary>The VM's size in 4 KiB pages.</summary>
    public int? Pages { get; init; }
    public bool Exhaustive { get; init; }
    public KernelVersion? Kernel { get; init; }
    /// <summary>Sequences run at once (default: one per core). Findings do not depend on it.</summary>
    public int Jobs { get; init; } = Environment.ProcessorCount;

    public const int DefaultSearchDepth = 8;
    public const int DefaultExhaustiveDepth = 3;
    public const int DefaultSearchPages = 2;
    public const int DefaultExhaustivePages = 2;

    public int EffectiveDepth => Depth ?? (Exhaustive ? DefaultExhaustiveDepth : DefaultSearchDepth);
    public int EffectivePages => Pages ?? (Exhaustive ? DefaultExhaustivePages : DefaultSearchPages);
}

/// <summary>Where a search stands: sequences tried, corpus size and behaviours (search), distinct states and depth done (exhaustive).</summary>
public readonly record struct ExploreProgress(int Tried, int Corpus, int Behaviours, int States, int Depth);

/// <summary>One step of a finding as it ran: the step, and its outcome as scenario JSON.</summary>
public sealed record FindingStep(int Index, string Step, string Outcome);

/// <summary>A violation, shrunk: which goal, the steps and what they observed, and the scenario document that replays it.</summary>
public sealed record ExploreFinding(ExploreGoal Goal, IReadOnlyList<FindingStep> Steps, int StepsBeforeShrinking, JsonObject Scenario)
{
    /// <summary>Set when the "violation" was the simulator throwing: a bug in the engine or a plugin, not a finding about the design.</summary>
    public string? Bug { get; init; }

    /// <summary>The steps as the explorer holds them (to run them under another design).</summary>
    internal IReadOnlyList<ExploreStep> Source { get; init; } = [];
}

/// <summary>What an exploration did and found.</summary>
public sealed record ExploreReport(ExploreOptions Options, ExploreFinding? Finding, ExploreProgress Progress, TimeSpan Elapsed)
{
    /// <summary>One line saying what was found or how far the search got without finding anything.</summary>
    public string Summary
    {
        get
        {
            var options = Options;
            var goal = options.Goal.Name;
            if (Finding is { Bug: { } bug })
                return $"the simulator failed on a sequence it accepted (a bug in the engine or a plugin, not a finding about {options.Stack.Label}): {bug}";
            if (Finding is { } found)
                return options.Exhaustive
                    ? $"{found.Goal.Name} under {options.Stack.Label}: a shortest counterexample of {found.Steps.Count} step(s), found at depth {Progress.Depth} after {Progress.Tried} sequences over {Progress.States} distinct states"
                    : $"{found.Goal.Name} under {options.Stack.Label} after {Progress.Tried} sequences (seed {options.Seed}): {found.Goal.Description}; shrunk from {found.StepsBeforeShrinking} to {found.Steps.Count} step(s)";
            if (options.Exhaustive)
                return Progress.Depth >= options.EffectiveDepth
                    ? $"no violation of {goal} under {options.Stack.Label} up to depth {options.EffectiveDepth} over {Progress.States} distinct states ({Progress.Tried} sequences run)"
                    : $"no violation of {goal} under {options.Stack.Label} up to depth {Progress.Depth} over {Progress.States} distinct states; the budget ({options.Budget}) ran out before depth {options.EffectiveDepth}";
            return $"no violation of {goal} under {options.Stack.Label} in {Progress.Tried} sequences (budget {options.Budget}, seed {options.Seed}); corpus {Progress.Corpus}, behaviours {Progress.Behaviours}";
        }
    }
}

/// <summary>
/// <c>vmm explore</c>'s engine: searches (or enumerates) op sequences for one that violates the goal under a stack,
/// shrinks it, and turns it into a scenario whose expect is what each step observed, so <c>vmm run</c> replays it.
/// </summary>
public sealed class Explorer(VmmHost host)
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Indented, with '+' and the like as written ("tdx-ci+none", not "tdx-ci\u002Bnone"): the file is for people too.</summary>
    private static readonly System.Text.Json.JsonSerializerOptions FileFormat = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Raised after each round (search) or level (exhaustive).</summary>
    public event Action<ExploreProgress>? Progress;

    /// <summary>Raised when shrinking starts, with the length of the violating sequence.</summary>
    public event Action<int>? Shrinking;

    public ExploreReport Run(ExploreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Check(options);
        var clock = Stopwatch.StartNew();
        var target = new ExploreTarget(host, options.Stack, options.Goal, options.EffectivePages, options.Kernel);
        var alphabet = ExploreOp.For(options.Actors);
        ExploreProgress progress;
        var found = options.Exhaustive
            ? new ExhaustiveSearch(target, alphabet, options.EffectiveDepth).Run(options.Budget, options.Jobs, p => Progress?.Invoke(p), cancellationToken, out progress)
            : new ExploreSearch(target, alphabet, options.EffectiveDepth, options.Seed).Run(options.Budget, options.Jobs, p => Progress?.Invoke(p), cancellationToken, out progress);
        if (found is null) return new ExploreReport(options, null, progress, clock.Elapsed);
        Shrinking?.Invoke(found.Steps.Count);
        var shrunk = options.Exhaustive ? found : Shrinker.Shrink(target, found);
        return new ExploreReport(options, ToFinding(target, options, shrunk, found.Steps.Count), progress, clock.Elapsed);
    }

    /// <summary>Throws an <see cref="ExploreException"/> for options out of range (what <see cref="Run"/> checks first, for front ends to call before showing progress).</summary>
    public static void Check(ExploreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.EffectiveDepth is < 1 or > 64) throw new ExploreException($"--depth: expected 1 to 64 steps, not {options.EffectiveDepth}");
        if (options.Exhaustive && options.EffectiveDepth > 8) throw new ExploreException($"--depth: the exhaustive mode enumerates at most 8 steps (the sequences grow as the alphabet to the depth), not {options.EffectiveDepth}");
        if (options.EffectivePages is < 1 or > 64) throw new ExploreException($"--pages: expected 1 to 64 pages, not {options.EffectivePages}");
        if (options.Jobs < 1) throw new ExploreException($"--jobs: expected 1 or more, not {options.Jobs}");
    }

    private static ExploreFinding ToFinding(ExploreTarget target, ExploreOptions options, Trial trial, int before)
    {
        var goal = trial.Violated ?? options.Goal;
        var mode = options.Exhaustive ? $"exhaustive, depth {options.EffectiveDepth}" : $"seed {options.Seed}";
        var name = $"explore: {goal.Name} under {options.Stack.Label} ({mode})";
        if (trial.Bug is { } bug)
        {
            var buggy = target.Document(trial.Steps, name);
            var bugSteps = trial.Steps.Select((s, i) => new FindingStep(i, s.ToString(), "")).ToList();
            return new ExploreFinding(goal, bugSteps, before, buggy) { Bug = $"{bug.GetType().Name}: {bug.Message}", Source = trial.Steps };
        }
        var document = target.Document(trial.Steps, name);
        document["description"] = Description(goal, options, trial);
        var scenario = ComparisonRunner.Observed(document, name, trial.Scenario!, trial.Result!);
        var steps = trial.Steps.Select((s, i) => new FindingStep(i, s.ToString(), i < trial.Result!.Steps.Count ? OutcomeJson.ToJson(trial.Result.Steps[i].Actual) : "")).ToList();
        return new ExploreFinding(goal, steps, before, scenario) { Source = trial.Steps };
    }

    private static string Description(ExploreGoal goal, ExploreOptions options, Trial trial) =>
        $"Found by vmm explore --stack {options.Stack.Label} --goal {options.Goal.Name}{(options.Exhaustive ? $" --exhaustive --depth {options.EffectiveDepth}" : $" --seed {options.Seed}")}: {goal.Description} " +
        $"({goal.Metric}: {trial.Metrics.GetValueOrDefault(goal.Metric).ToString(CultureInfo.InvariantCulture)}). Each expect is what the step observed.";

    /// <summary>
    /// Writes the finding's scenario into <paramref name="directory"/> as explore-GOAL-STACK-seedN.json (or -2, -3, ...
    /// when that name is taken: an existing file is never replaced), then runs it as <c>vmm run</c> would and checks
    /// that it passes. Returns the file written.
    /// </summary>
    public string Write(ExploreReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(directory);
        var finding = report.Finding ?? throw new ArgumentException("the report has no finding to write", nameof(report));
        Directory.CreateDirectory(directory);
        var mode = report.Options.Exhaustive ? $"depth{report.Options.EffectiveDepth}" : $"seed{report.Options.Seed}";
        var stem = $"explore-{finding.Goal.Name}-{report.Options.Stack.FileName}-{mode}";
        var text = finding.Scenario.ToJsonString(FileFormat) + "\n";
        for (var n = 1; ; n++)
        {
            var path = Path.Combine(directory, n == 1 ? $"{stem}.json" : $"{stem}-{n}.json");
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
                using (var writer = new StreamWriter(stream, Utf8))
                    writer.Write(text);
            }
            catch (IOException) when (File.Exists(path) || Directory.Exists(path))
            {
                if (n >= 1000) throw new IOException($"{path}: a thousand files of that name exist already; give another --output");
                continue;
            }
            if (finding.Bug is null) Replay(path);
            return path;
        }
    }

    /// <summary>A written finding must pass under <c>vmm run</c>; if it does not, explore (not the design) is wrong.</summary>
    private void Replay(string path)
    {
        var validated = host.Validate(path);
        if (!validated.IsValid) throw new InvalidOperationException($"explore wrote {path}, which vmm run rejects: {validated.Error}");
        var report = host.Run(validated);
        if (!report.Passed)
            throw new InvalidOperationException($"explore wrote {path}, which fails under vmm run: {string.Join("; ", report.Steps.Where(s => !s.Passed).Select(s => $"step {s.Index} ({s.Op}) observed {s.ActualText}"))}");
    }
}

/// <summary>
/// Shrinking, as QuickCheck and syzkaller's repro do it: drop chunks of steps, then single steps, then make each
/// remaining step smaller (page 0, one page, 8 bytes, offset 0), and renumber pages in order of first use, keeping a
/// change only while the sequence still violates the same goal (or still makes the simulator fail the same way).
/// </summary>
internal static class Shrinker
{
    private const int MaxRuns = 2000;

    public static Trial Shrink(ExploreTarget target, Trial found)
    {
        var goal = found.Violated;
        var bug = found.Bug?.GetType();
        var best = found;
        var runs = 0;
        bool Try(List<ExploreStep> candidate)
        {
            if (runs >= MaxRuns || candidate.Count == 0) return false;
            runs++;
            var trial = target.Run(candidate, goal: goal ?? target.Goal);
            var holds = bug is not null ? trial.Bug?.GetType() == bug : trial.Violated == goal;
            if (holds) best = trial;
            return holds;
        }

        var changed = true;
        while (changed && runs < MaxRuns)
        {
            changed = false;
            for (var chunk = Math.Max(1, best.Steps.Count / 2); chunk >= 1; chunk /= 2)
            {
                for (var at = 0; at + chunk <= best.Steps.Count;)
                {
                    var candidate = best.Steps.Take(at).Concat(best.Steps.Skip(at + chunk)).ToList();
                    if (Try(candidate)) changed = true;
                    else at += chunk;
                }
                if (chunk == 1) break;
            }
            for (var i = 0; i < best.Steps.Count; i++)
                foreach (var simpler in Simpler(best.Steps[i], target.Pages))
                {
                    var candidate = best.Steps.ToList();
                    candidate[i] = simpler;
                    if (Try(candidate)) { changed = true; break; }
                }
            var renumbered = Renumber(best.Steps);
            if (!renumbered.SequenceEqual(best.Steps) && Try(renumbered)) changed = true;
        }
        return best;
    }

    /// <summary>Smaller versions of a step, the simplest first.</summary>
    private static IEnumerable<ExploreStep> Simpler(ExploreStep step, int pages)
    {
        var candidates = new List<ExploreStep>();
        if (step.Page > 0) candidates.AddRange([step with { Page = 0 }, step with { Page = step.Page - 1 }]);
        if (step.Pages > 1) candidates.Add(step with { Pages = 1 });
        if (step.Op.HasOffset && step.Offset > 0) candidates.Add(step with { Offset = 0 });
        if (step.Op.HasLength && step.Length > 8) candidates.AddRange([step with { Length = 8 }, step with { Length = step.Length / 2 }]);
        return candidates.Select(c => ExploreSearch.Normalize(c, pages)).Where(c => c != step).Distinct();
    }

    /// <summary>Pages renumbered 0, 1, 2... in order of first use.</summary>
    private static List<ExploreStep> Renumber(IReadOnlyList<ExploreStep> steps)
    {
        var map = new Dictionary<int, int>();
        foreach (var step in steps)
            if (step.Op.HasPage && !map.ContainsKey(step.Page)) map[step.Page] = map.Count;
        return steps.Select(s => s.Op.HasPage ? s with { Page = map[s.Page] } : s).ToList();
    }
}
