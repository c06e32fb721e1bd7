using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Comparisons;
using Vmm.Core.Engine;
using Vmm.Core.Options;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>One finished run of a comparison, for progress displays.</summary>
public readonly record struct ComparisonProgress(int Done, int Total, string Workload, string Stack, int Seed);

/// <summary>
/// Runs a <see cref="Comparison"/>: each workload writes one scenario per seed (the same ops for every stack), each stack
/// runs it, and <see cref="RunMetrics"/> counts what happened. Runs are independent and go in parallel; the report
/// depends only on the comparison (the same seed gives the same report, in parallel or not), except wall times.
/// </summary>
public sealed partial class ComparisonRunner(VmmHost host)
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Raised after each run, from the thread that ran it.</summary>
    public event Action<ComparisonProgress>? RunFinished;

    /// <summary>The workloads the host registers, by name.</summary>
    public IReadOnlyList<ComponentInfo> Workloads => host.Components.Where(c => c.Kind == ComponentKind.Workload).ToList();

    /// <summary>The default comparison: every default stack that exists, every registered workload, baseline tdx-ci+none (or the first stack).</summary>
    public Comparison Default()
    {
        var stacks = Stack.Defaults(host.Components);
        return new Comparison
        {
            Stacks = stacks,
            Workloads = Workloads.Select(w => w.Name).ToList(),
            Baseline = stacks.Any(s => s.Label == Stack.DefaultBaseline) ? Stack.DefaultBaseline : (stacks.Count > 0 ? stacks[0].Label : Stack.DefaultBaseline),
        };
    }

    public ComparisonReport Run(Comparison comparison, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        var clock = Stopwatch.StartNew();
        var results = RunEach(comparison, ComparisonShard.Whole, cancellationToken);
        return Report(comparison, results, clock.Elapsed);
    }

    /// <summary>Runs only <paramref name="shard"/>'s runs of the comparison (<see cref="ComparisonShard.Owns"/>); <see cref="Report"/> takes every shard's results together.</summary>
    public ComparisonShardResult RunShard(Comparison comparison, ComparisonShard shard, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        var clock = Stopwatch.StartNew();
        var results = RunEach(comparison, shard, cancellationToken);
        return new ComparisonShardResult(shard, comparison.RunCount, results, clock.Elapsed);
    }

    /// <summary>The runs of <paramref name="shard"/>, in the comparison's order; each scenario is generated once and shared by the stacks.</summary>
    private List<ComparisonRunResult> RunEach(Comparison comparison, ComparisonShard shard, CancellationToken cancellationToken)
    {
        Check(comparison);
        var shared = comparison.Options.Select(o => ToOption(o, "--option")).ToList();
        var owned = shard.Runs(comparison.RunCount);
        var (needs, variants, generated) = GenerateScenarios(comparison, shared, owned, cancellationToken);

        var total = owned.Count;
        var results = new ComparisonRunResult[total];
        var done = 0;
        var dumpError = (Exception?)null;
        var errors = new ComparisonException?[total];
        Parallel.For(0, total, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, comparison.Parallelism), CancellationToken = cancellationToken }, slot =>
        {
            var index = owned[slot];
            var (w, s, r) = Decompose(index, comparison);
            var stack = comparison.Stacks[s];
            var (document, generic) = generated[w, r, variants.IndexOf(needs[s])];
            var scenario = WithOptions(generic, [.. shared, .. stack.Options.Select(o => ToOption(o, $"stack \"{stack.Label}\""))]);
            var watch = Stopwatch.StartNew();
            ScenarioResult result;
            try
            {
                result = host.Run(scenario, stack.ToEngine(comparison.Kernel), null, cancellationToken);
            }
            catch (ScenarioException e)
            {
                // Kept per run and thrown after the loop, the first in comparison order, so the message never depends on timing.
                errors[slot] = new ComparisonException($"stack \"{stack.Label}\" on workload {comparison.Workloads[w]}: {e.Message}", e);
                return;
            }
            results[slot] = new ComparisonRunResult(index, comparison.Workloads[w], stack.Label, comparison.Seed + r, RunMetrics.Of(scenario, result), watch.Elapsed.TotalMilliseconds, result.Steps.Count, result.ModelledNanosecondsByKind);
            if (comparison.DumpDirectory is { } directory)
            {
                try
                {
                    Dump(directory, comparison.Workloads[w], stack, comparison.Seed + r, document, scenario, result);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    dumpError = e;
                }
            }
            RunFinished?.Invoke(new ComparisonProgress(Interlocked.Increment(ref done), total, comparison.Workloads[w], stack.Label, comparison.Seed + r));
        });
        if (errors.FirstOrDefault(e => e is not null) is { } firstError) throw firstError;
        if (dumpError is not null)
            throw new ComparisonException($"--dump: cannot write into {comparison.DumpDirectory}: {dumpError.Message}", dumpError);
        return [.. results];
    }

    /// <summary>
    /// The report of <paramref name="comparison"/> from every one of its runs' results, in any order (one process's
    /// or every shard's, merged): the one place a report is built, so a merged report is the one a single process makes.
    /// </summary>
    public ComparisonReport Report(Comparison comparison, IReadOnlyList<ComparisonRunResult> runs, TimeSpan wallTime)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        ArgumentNullException.ThrowIfNull(runs);
        Check(comparison);
        var total = comparison.RunCount;
        var results = new ComparisonRunResult[total];
        foreach (var run in runs)
        {
            if (run.Run < 0 || run.Run >= total) throw new ComparisonException($"run {run.Run} is not one of the comparison's {total} runs");
            if (results[run.Run] is not null) throw new ComparisonException($"run {run.Run} ({run.Workload} under {run.Stack}, seed {run.Seed}) is given twice");
            var (w, s, r) = Decompose(run.Run, comparison);
            if (run.Workload != comparison.Workloads[w] || run.Stack != comparison.Stacks[s].Label || run.Seed != comparison.Seed + r)
                throw new ComparisonException($"run {run.Run} is {run.Workload} under {run.Stack}, seed {run.Seed}, where the comparison's run {run.Run} is {comparison.Workloads[w]} under {comparison.Stacks[s].Label}, seed {comparison.Seed + r}");
            if (RunMetrics.Definitions.FirstOrDefault(d => !run.Metrics.ContainsKey(d.Name)) is { } absent)
                throw new ComparisonException($"run {run.Run} ({run.Workload} under {run.Stack}, seed {run.Seed}) has no value for the metric \"{absent.Name}\"");
            results[run.Run] = run;
        }
        if (Array.FindIndex(results, r => r is null) is var missing and >= 0)
        {
            var (w, s, r) = Decompose(missing, comparison);
            throw new ComparisonException($"run {missing} ({comparison.Workloads[w]} under {comparison.Stacks[s].Label}, seed {comparison.Seed + r}) is missing");
        }

        var tables = new List<WorkloadTable>();
        for (var w = 0; w < comparison.Workloads.Count; w++)
        {
            var rows = new List<StackRow>();
            var baselineIndex = comparison.Stacks.ToList().FindIndex(st => st.Label == comparison.Baseline);
            var baselineTime = Mean(results, comparison, w, baselineIndex, RunMetrics.ModelledMicroseconds);
            for (var s = 0; s < comparison.Stacks.Count; s++)
            {
                var metrics = new Dictionary<string, MetricValue>(StringComparer.Ordinal);
                foreach (var definition in RunMetrics.Definitions)
                {
                    var values = Enumerable.Range(0, comparison.Repeat).Select(r => results[Index(comparison, w, s, r)].Metrics[definition.Name]).ToList();
                    metrics[definition.Name] = new MetricValue(values.Average(), StdDev(values));
                }
                var time = metrics[RunMetrics.ModelledMicroseconds].Mean;
                var wall = Enumerable.Range(0, comparison.Repeat).Average(r => results[Index(comparison, w, s, r)].WallMilliseconds);
                var steps = results[Index(comparison, w, s, 0)].Steps;
                var byKind = Enumerable.Range(0, comparison.Repeat).SelectMany(r => results[Index(comparison, w, s, r)].ModelledNanosecondsByKind)
                    .GroupBy(k => k.Key, StringComparer.Ordinal)
                    .OrderBy(g => g.Key, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.Sum(k => k.Value) / comparison.Repeat, StringComparer.Ordinal);
                rows.Add(new StackRow(comparison.Stacks[s].Label, s == baselineIndex, metrics, baselineTime > 0 ? time / baselineTime : null, wall, steps)
                {
                    ModelledNanosecondsByKind = byKind,
                });
            }
            var info = host.Components.First(c => c.Kind == ComponentKind.Workload && c.Name == comparison.Workloads[w]);
            tables.Add(new WorkloadTable(info.Name, info.Description, rows));
        }
        return new ComparisonReport(
            tables,
            RunMetrics.Definitions.Select(MetricInfo.Of).ToList(),
            comparison.Baseline,
            comparison.Seed,
            comparison.Repeat,
            comparison.Kernel?.ToString(),
            total,
            wallTime,
            Conclusions.Of(tables, comparison.Baseline))
        {
            Claims = Claims.Of(tables),
        };
    }

    /// <summary>
    /// One scenario per workload and seed, written once: every stack sees the same ops. A design that needs its own
    /// backing or kernel (its RequiresAttribute) gets the scenario with that backing and kernel (variant needs[stack]).
    /// With <paramref name="runs"/> (a shard's), only the scenarios those runs use are made, and each workload's first
    /// seed is written anyway, so that a bad option fails in every shard alike.
    /// </summary>
    private (List<(string?, KernelVersion?)> Needs, List<(string?, KernelVersion?)> Variants, (JsonObject Document, Scenario Scenario)[,,] Generated) GenerateScenarios(
        Comparison comparison, IReadOnlyList<KeyValuePair<string, (JsonElement, SourceLocation)>> shared, IReadOnlyList<int>? runs = null, CancellationToken cancellationToken = default)
    {
        var needs = comparison.Stacks.Select(NeedsOf).ToList();
        var variants = needs.Distinct().ToList();
        var generated = new (JsonObject Document, Scenario Scenario)[comparison.Workloads.Count, comparison.Repeat, variants.Count];
        var used = runs?.Select(run => Decompose(run, comparison)).Select(run => (run.Workload, run.Repeat, variants.IndexOf(needs[run.Stack]))).ToHashSet();
        for (var w = 0; w < comparison.Workloads.Count; w++)
            for (var r = 0; r < comparison.Repeat; r++)
            {
                var wanted = Enumerable.Range(0, variants.Count).Where(v => used is null || used.Contains((w, r, v))).ToList();
                if (wanted.Count == 0 && r > 0) continue;
                cancellationToken.ThrowIfCancellationRequested(); // a time limit also stops a long generation
                var document = Generate(comparison.Workloads[w], comparison.Seed + r, shared);
                foreach (var v in wanted)
                    generated[w, r, v] = Parse(comparison.Workloads[w], comparison.Seed + r, Adapt(document, variants[v]));
            }
        return (needs, variants, generated);
    }

    private void Check(Comparison comparison)
    {
        if (comparison.Stacks.Count == 0) throw new ComparisonException("no stack to compare: give --stack, or add the plugins of the default stacks to plugins.json");
        if (comparison.Workloads.Count == 0) throw new ComparisonException("no workload to run: give --workload, or add a workloads plugin to plugins.json");
        if (comparison.Repeat is < 1 or > 1000) throw new ComparisonException($"--repeat: expected 1 to 1000 runs per point, not {comparison.Repeat}");
        var duplicate = comparison.Stacks.GroupBy(s => s.Label, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ComparisonException($"--stack \"{duplicate.Key}\" is given twice");
        var known = Workloads.Select(w => w.Name).ToList();
        foreach (var workload in comparison.Workloads)
            if (!known.Contains(workload))
                throw new ComparisonException($"--workload: unknown workload \"{workload}\"{NameHints.DidYouMean(workload, known)}; known: {(known.Count > 0 ? string.Join(", ", known) : "none (no plugin registers one; check plugins.json)")}");
        if (!comparison.Stacks.Any(s => s.Label == comparison.Baseline))
            throw new ComparisonException($"--baseline \"{comparison.Baseline}\" is not one of the stacks compared ({string.Join(", ", comparison.Stacks.Select(s => s.Label))}); give it as a --stack too");
    }

    private JsonObject Generate(string workload, int seed, IReadOnlyList<KeyValuePair<string, (JsonElement, SourceLocation)>> options)
    {
        using var scope = host.Services.CreateScope();
        var source = scope.ServiceProvider.GetRequiredService<ScenarioOptionsSource>();
        try
        {
            source.Configure(options, scope.ServiceProvider.GetServices<ComponentDescriptor>());
        }
        catch (ScenarioException e)
        {
            throw new ComparisonException(e.Message, e);
        }
        IWorkload generator;
        try
        {
            generator = scope.ServiceProvider.GetRequiredKeyedService<IWorkload>(workload);
        }
        catch (Exception e) when (Unwrap<ComponentOptionsException>(e) is { } bad)
        {
            throw new ComparisonException($"workload {workload}: {bad.Message}", e);
        }
        var writer = new ScenarioWriter($"{workload} (seed {seed})");
        generator.Write(writer, new WorkloadContext(seed));
        return writer.ToJson();
    }

    private static (JsonObject, Scenario) Parse(string workload, int seed, JsonObject document)
    {
        try
        {
            return (document, ScenarioParser.Parse(document.ToJsonString(), $"workload {workload} seed {seed}"));
        }
        catch (ScenarioException e)
        {
            throw new InvalidOperationException($"workload {workload} wrote a scenario the parser rejects (a bug in the workload): {e.Message}", e);
        }
    }

    /// <summary>What a stack's components need of the VMs (<see cref="ComponentInfo.ProtectedBacking"/>, <see cref="ComponentInfo.MinimumKernel"/>).</summary>
    internal (string? Backing, KernelVersion? Kernel) NeedsOf(Stack stack)
    {
        string? backing = null;
        KernelVersion? kernel = null;
        foreach (var (kind, name) in stack.Components)
        {
            if (host.Components.FirstOrDefault(c => c.Kind == kind && c.Name == name) is not { } info) continue;
            backing ??= info.ProtectedBacking;
            if (KernelVersion.TryParse(info.MinimumKernel, out var minimum) && (kernel is null || minimum > kernel.Value)) kernel = minimum;
        }
        return (backing, kernel);
    }

    /// <summary>The workload's scenario with the protected VMs on the design's backing and at least the design's kernel.</summary>
    internal static JsonObject Adapt(JsonObject document, (string? Backing, KernelVersion? Kernel) needs)
    {
        if (needs is (null, null)) return document;
        var adapted = (JsonObject)document.DeepClone();
        if (needs.Backing is { } backing)
            foreach (var vm in adapted["vms"]!.AsArray().OfType<JsonObject>())
                if (vm["protected"]?.GetValue<bool>() == true) vm["backing"] = backing;
        if (needs.Kernel is { } minimum)
        {
            var written = adapted["kernel"] is { } k && KernelVersion.TryParse(k.GetValue<string>(), out var v) ? v : KernelVersion.Default;
            if (written < minimum) adapted["kernel"] = minimum.ToString();
        }
        return adapted;
    }

    private static T? Unwrap<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T found) return found;
        return null;
    }

    /// <summary>"section.option" = text: JSON when it parses as JSON (true, 12, "x"), otherwise the text as a string.</summary>
    internal static KeyValuePair<string, (JsonElement, SourceLocation)> ToOption(KeyValuePair<string, string> option, string where)
    {
        JsonElement value;
        try
        {
            using var parsed = JsonDocument.Parse(option.Value);
            value = parsed.RootElement.Clone();
        }
        catch (JsonException)
        {
            value = JsonSerializer.SerializeToElement(option.Value);
        }
        return new(option.Key, (value, new SourceLocation(where, 0, 0)));
    }

    internal static Scenario WithOptions(Scenario scenario, IEnumerable<KeyValuePair<string, (JsonElement Value, SourceLocation Location)>> options)
    {
        var merged = new Dictionary<string, (JsonElement, SourceLocation)>(scenario.Options, StringComparer.Ordinal);
        foreach (var (key, value) in options) merged[key] = value;
        return scenario with { Options = merged };
    }

    /// <summary>Writes the run as DIR/WORKLOAD/STACK-seedN.json: the workload's scenario with the stack's components and options and what each step observed as its expect.</summary>
    private static void Dump(string directory, string workload, Stack stack, int seed, JsonObject document, Scenario scenario, ScenarioResult result)
    {
        var ordered = Observed(document, $"{workload} under {stack.Label} (seed {seed})", scenario, result);
        var folder = Path.Combine(directory, workload);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, $"{stack.FileName}-seed{seed}.json"), ordered.ToJsonString(ScenarioWriter.Indented) + "\n", Utf8);
    }

    /// <summary>The run as a scenario document vmm run replays: the stack's components and options, and what each step observed as its expect.</summary>
    internal static JsonObject Observed(JsonObject document, string title, Scenario scenario, ScenarioResult result)
    {
        var dump = (JsonObject)document.DeepClone();
        dump["name"] = title;
        dump["kernel"] = result.Kernel.ToString();
        var components = new JsonObject();
        foreach (var (kind, name) in result.Components.OrderBy(c => c.Key)) components[kind.Key()] = name;
        dump["components"] = components;
        if (scenario.Options.Count > 0)
        {
            var options = new JsonObject();
            foreach (var (key, (value, _)) in scenario.Options.OrderBy(o => o.Key, StringComparer.Ordinal)) options[key] = JsonNode.Parse(value.GetRawText());
            dump["options"] = options;
        }
        var steps = (JsonArray)dump["steps"]!;
        for (var i = 0; i < steps.Count && i < result.Steps.Count; i++)
            steps[i]!["expect"] = JsonNode.Parse(OutcomeJson.ToJson(result.Steps[i].Actual));
        // Reordered so that the file reads name, kernel, components, options, vms, steps.
        var ordered = new JsonObject();
        foreach (var key in new[] { "name", "description", "kernel", "components", "options", "host", "vms", "steps" })
            if (dump[key] is { } node) { dump.Remove(key); ordered[key] = node; }
        return ordered;
    }

    private static (int Workload, int Stack, int Repeat) Decompose(int index, Comparison comparison)
    {
        var r = index % comparison.Repeat;
        var rest = index / comparison.Repeat;
        return (rest / comparison.Stacks.Count, rest % comparison.Stacks.Count, r);
    }

    private static int Index(Comparison comparison, int w, int s, int r) => ((w * comparison.Stacks.Count) + s) * comparison.Repeat + r;

    private static double Mean(ComparisonRunResult[] results, Comparison comparison, int w, int s, string metric) =>
        s < 0 ? 0 : Enumerable.Range(0, comparison.Repeat).Average(r => results[Index(comparison, w, s, r)].Metrics[metric]);

    private static double StdDev(List<double> values)
    {
        if (values.Count < 2) return values.Exists(double.IsNaN) ? double.NaN : 0; // not available stays so
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }
}
