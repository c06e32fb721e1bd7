using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Vmm.Abstractions;
using Vmm.Core.Comparisons;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting.Exploration;

/// <summary>One run of an explored sequence: what <see cref="RunMetrics"/> counted, the goal it violated, and the behaviour it showed.</summary>
internal sealed record Trial(
    IReadOnlyList<ExploreStep> Steps,
    JsonObject Document,
    Scenario? Scenario,
    ScenarioResult? Result,
    IReadOnlyDictionary<string, double> Metrics,
    ExploreGoal? Violated,
    IReadOnlySet<string> Features,
    string? Invalid,
    Exception? Bug)
{
    /// <summary>The machine state after the sequence (exhaustive mode only; empty otherwise).</summary>
    public string State { get; init; } = "";
}

/// <summary>
/// What is explored: a stack (its components, options and needs, as <c>vmm compare</c> reads them), the goal, and a
/// VM of a few pages. Runs a sequence the way <see cref="ComparisonRunner"/> runs a workload's scenario, so a finding
/// here is what compare would count for the same ops.
/// </summary>
internal sealed class ExploreTarget
{
    private readonly VmmHost _host;
    private readonly (string? Backing, KernelVersion? Kernel) _needs;
    private readonly List<KeyValuePair<string, (System.Text.Json.JsonElement, SourceLocation)>> _options;

    public ExploreTarget(VmmHost host, Stack stack, ExploreGoal goal, int pages, KernelVersion? kernel)
    {
        _host = host;
        Stack = stack;
        Goal = goal;
        Pages = pages;
        Kernel = kernel;
        _needs = new ComparisonRunner(host).NeedsOf(stack);
        _options = stack.Options.Select(o => ComparisonRunner.ToOption(o, $"stack \"{stack.Label}\"")).ToList();
    }

    public Stack Stack { get; }
    public ExploreGoal Goal { get; }
    public int Pages { get; }
    public KernelVersion? Kernel { get; }

    /// <summary>The scenario document of <paramref name="steps"/> as this stack runs it (its backing and kernel).</summary>
    public JsonObject Document(IReadOnlyList<ExploreStep> steps, string name = "explore") =>
        ComparisonRunner.Adapt(ExploreScenario.Write(name, steps, Pages), _needs);

    /// <summary>
    /// Runs <paramref name="steps"/>. With <paramref name="probe"/> it also inspects every page afterwards and returns
    /// the state they show; the probes are not counted by the metrics.
    /// </summary>
    public Trial Run(IReadOnlyList<ExploreStep> steps, bool probe = false, ExploreGoal? goal = null)
    {
        var document = ComparisonRunner.Adapt(ExploreScenario.Write("explore", steps, Pages, out var unfaithful), _needs);
        if (unfaithful is not null) return new Trial(steps, document, null, null, Empty, null, EmptyFeatures, unfaithful, null);
        var run = document;
        if (probe)
        {
            run = (JsonObject)document.DeepClone();
            var list = run["steps"]!.AsArray();
            for (var page = 0; page < Pages; page++)
                list.Add(new JsonObject { ["op"] = "inspect", ["vm"] = ExploreScenario.VmName, ["gpa"] = ScenarioWriter.Hex((ulong)page * ExploreScenario.PageSize) });
        }
        Scenario scenario;
        ScenarioResult result;
        try
        {
            scenario = ComparisonRunner.WithOptions(ScenarioParser.Parse(run.ToJsonString(), "explore"), _options);
            result = _host.Run(scenario, Stack.ToEngine(Kernel));
        }
        catch (ScenarioException e)
        {
            return new Trial(steps, document, null, null, Empty, null, EmptyFeatures, e.Message, null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Anything else is the simulator failing on input it accepted: a bug explore reports, not a finding.
            return new Trial(steps, document, null, null, Empty, null, EmptyFeatures, null, e);
        }
        var counted = probe ? result with { Steps = result.Steps.Take(steps.Count).ToList() } : result;
        var metrics = RunMetrics.Of(scenario, counted);
        var trial = new Trial(steps, document, scenario, counted, metrics, (goal ?? Goal).ViolatedBy(metrics), FeaturesOf(steps, counted), null, null);
        return probe ? trial with { State = StateOf(steps, result) } : trial;
    }

    private static readonly IReadOnlyDictionary<string, double> Empty = new Dictionary<string, double>();
    private static readonly IReadOnlySet<string> EmptyFeatures = new HashSet<string>();

    /// <summary>
    /// The behaviour a run showed, as syzkaller's coverage signal: each step's op with its outcome, every cost-ledger
    /// category the run touched (its count bucketed by powers of two) and every kernel warning.
    /// </summary>
    private static HashSet<string> FeaturesOf(IReadOnlyList<ExploreStep> steps, ScenarioResult result)
    {
        var features = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < result.Steps.Count && i < steps.Count; i++)
            features.Add($"{steps[i].Op.Label}→{Describe(result.Steps[i].Actual)}");
        foreach (var (kind, count) in result.Costs)
            if (count > 0) features.Add($"cost {kind} {Math.ILogB(count)}");
        foreach (var warning in result.Warnings) features.Add("warn " + new string(warning.Where(c => !char.IsAsciiDigit(c)).ToArray()));
        return features;
    }

    /// <summary>An outcome without its data: kind, signal code and lsb, errno, exit reason.</summary>
    internal static string Describe(Outcome outcome) => outcome.Kind switch
    {
        OutcomeKind.SigBus => $"sigbus {outcome.SigBusCode} {outcome.Lsb}",
        OutcomeKind.Errno => $"errno {outcome.Errno}",
        OutcomeKind.KvmExit => $"exit {outcome.ExitReason} {outcome.Errno}",
        OutcomeKind.Ok => outcome.Count is { } count ? $"ok count {count}" : "ok",
        _ => OutcomeJson.Name(outcome.Kind),
    };

    /// <summary>
    /// The state the exhaustive mode deduplicates on: what inspect shows of every page (frame, flags, mappings,
    /// counts, poisoned lines), whether the machine ended, and per page the last op that could have changed its
    /// contents, the last private write of the guest and whether a memory error hit it (contents and pending errors,
    /// which inspect does not show). Two sequences with the same state behave the same from there on.
    /// </summary>
    private static string StateOf(IReadOnlyList<ExploreStep> steps, ScenarioResult result)
    {
        var text = new StringBuilder();
        foreach (var probe in result.Steps.Skip(steps.Count))
        {
            text.Append('[');
            if (probe.Actual.State is { } state)
                foreach (var (key, value) in state.OrderBy(s => s.Key, StringComparer.Ordinal))
                    text.Append(key).Append('=').Append(Render(value)).Append(';');
            else text.Append(OutcomeJson.Name(probe.Actual.Kind));
            text.Append(']');
        }
        var lastChange = new Dictionary<int, int>();
        var lastSecret = new Dictionary<int, int>();
        var errors = new SortedSet<int>();
        var global = new List<string>();
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            if (!step.Op.HasPage)
            {
                global.Add(step.Op.Label);
                continue;
            }
            var letter = ExploreOp.All.ToList().IndexOf(step.Op);
            for (var p = step.Page; p < step.Page + (step.Op.HasPages ? step.Pages : 1); p++)
            {
                if (step.Op.ChangesContents) lastChange[p] = letter * 1_000_000 + step.Offset * 1000 + step.Length;
                if (step.Op.IsGuestSecretWrite) lastSecret[p] = step.Offset * 1000 + step.Length;
                if (step.Op.Op == "hw.memory-error") errors.Add(p);
            }
        }
        text.Append(" changed ").AppendJoin(',', lastChange.OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}"));
        text.Append(" secret ").AppendJoin(',', lastSecret.OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}"));
        text.Append(" errors ").AppendJoin(',', errors);
        text.Append(" global ").AppendJoin(',', global);
        return text.ToString();
    }

    private static string Render(object? value) => value switch
    {
        null => "null",
        IDictionary<string, object?> nested => "{" + string.Join(",", nested.OrderBy(n => n.Key, StringComparer.Ordinal).Select(n => $"{n.Key}={Render(n.Value)}")) + "}",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
