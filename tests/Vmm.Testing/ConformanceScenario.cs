using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Vmm.Hosting;

namespace Vmm.Testing;

/// <summary>
/// A scenario (docs/scenario-format.md) built in code and run through <see cref="VmmHost"/>'s public Validate and Run,
/// so engine-level properties are checked on the same path `vmm run` takes. Steps carry no <c>expect</c>: the
/// conformance classes read the actual outcomes and decide.
/// </summary>
public sealed class ConformanceScenario(string name)
{
    private readonly JsonObject _components = [];
    private readonly JsonObject _options = [];
    private readonly JsonArray _vms = [];
    private readonly JsonArray _steps = [];
    private string? _kernel;

    public int StepCount => _steps.Count;

    public ConformanceScenario Component(string kind, string component)
    {
        _components[kind] = component;
        return this;
    }

    /// <summary>The scenario's <c>kernel</c> (docs/semantics.md table V); without it the engine's default.</summary>
    public ConformanceScenario Kernel(string version)
    {
        _kernel = version;
        return this;
    }

    public ConformanceScenario Option(string key, JsonNode value)
    {
        _options[key] = value;
        return this;
    }

    public ConformanceScenario Vm(string vmName, string memory = "8M", bool isProtected = false, string backing = "shmem", bool thp = false)
    {
        _vms.Add(new JsonObject { ["name"] = vmName, ["memory"] = memory, ["protected"] = isProtected, ["backing"] = backing, ["thp"] = thp });
        return this;
    }

    /// <summary>Adds a step (an anonymous object with the op's properties: <c>new { op = "host.read", vm = "vm1", gpa = "0x1000", len = 8 }</c>) and returns its index.</summary>
    public int Step(object step)
    {
        _steps.Add(JsonSerializer.SerializeToNode(step));
        return _steps.Count - 1;
    }

    /// <summary>Adds every step of <paramref name="steps"/>; returns the index of the first.</summary>
    public int Steps(IEnumerable<object> steps)
    {
        var first = _steps.Count;
        foreach (var step in steps) Step(step);
        return first;
    }

    /// <summary>Adds an <c>inspect</c> of each (vm, gpa) and returns their step indexes.</summary>
    public IReadOnlyList<int> InspectAll(IEnumerable<(string Vm, ulong Gpa)> places)
        => places.Select(p => Step(new { op = "inspect", vm = p.Vm, gpa = Hex(p.Gpa) })).ToList();

    /// <summary>
    /// The frames behind (vm, gpa) after <paramref name="prefix"/> ran, as inspect's pfn text ("0x1", or null when none):
    /// runs are deterministic, so a second scenario with the same prefix finds the same frames and may inspect them by pfn.
    /// </summary>
    public static IReadOnlyList<string?> FramesAfter(VmmHost host, Func<ConformanceScenario> prefix, IReadOnlyList<(string Vm, ulong Gpa)> places)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var scenario = prefix();
        var steps = scenario.InspectAll(places);
        var run = scenario.Run(host);
        return steps.Select(i => run[i].StateText("pfn")).ToList();
    }

    public string ToJson()
    {
        var root = new JsonObject
        {
            ["name"] = name,
            ["kernel"] = _kernel ?? "5.16",
            ["components"] = _components.DeepClone(),
            ["options"] = _options.DeepClone(),
            ["vms"] = _vms.DeepClone(),
            ["steps"] = _steps.DeepClone(),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Validates and runs the scenario; bad input fails the test with the engine's message and the scenario text.</summary>
    public ScenarioOutcomes Run(VmmHost host, Action<StepReport>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        var text = ToJson();
        var file = Path.Combine(Path.GetTempPath(), $"vmm-conformance-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, text);
        try
        {
            var validated = host.Validate(file);
            Assert.True(validated.IsValid, $"the conformance scenario is bad input: {validated.Error}\n{text}");
            return new ScenarioOutcomes(host.Run(validated, onStep: onStep), text);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A hex data value of <paramref name="length"/> bytes, distinct per <paramref name="seed"/> and never all zeros.</summary>
    public static string Pattern(int seed, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++) bytes[i] = (byte)(0x5a ^ (seed * 31 + i * 7 + 1));
        return "0x" + Convert.ToHexString(bytes).ToLowerInvariant();
    }

    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}

/// <summary>What one conformance scenario observed, step by step.</summary>
public sealed class ScenarioOutcomes(ScenarioReport report, string scenarioText)
{
    public ScenarioReport Report { get; } = report;

    /// <summary>The scenario as run, for failure messages.</summary>
    public string ScenarioText { get; } = scenarioText;

    public StepOutcome this[int index] => new(Report.Steps[index]);

    public IReadOnlyList<StepOutcome> Steps => Report.Steps.Select(s => new StepOutcome(s)).ToList();
}

/// <summary>One step's actual outcome in the contract's outcome JSON.</summary>
public sealed class StepOutcome(StepReport step)
{
    private readonly JsonElement _json = JsonDocument.Parse(step.ActualJson).RootElement.Clone();

    public string Op => step.Op;

    /// <summary>The outcome JSON, e.g. <c>"ok"</c> or <c>{"sigbus":{"code":"BUS_MCEERR_AR","lsb":12}}</c>.</summary>
    public string Json => step.ActualJson;

    /// <summary>"ok", "sigbus", "errno", "kvm-exit", "state", "host-panic", "guest-killed", "not-run", ...</summary>
    public string Kind => _json.ValueKind == JsonValueKind.String ? _json.GetString()! : _json.EnumerateObject().First().Name;

    public bool IsOk => Kind == "ok";

    /// <summary>The data of an ok outcome as lower-case hex with 0x, or null when it carries none.</summary>
    public string? Data => IsOk && _json.ValueKind == JsonValueKind.Object && _json.GetProperty("ok").TryGetProperty("data", out var data) ? data.GetString() : null;

    /// <summary>An <c>inspect</c> state field, or fails the test when the outcome is not a state.</summary>
    public JsonElement State(string field)
    {
        Assert.True(Kind == "state", $"step {step.Index} ({step.Op}) was expected to be an inspect state, got {step.ActualJson}");
        Assert.True(_json.GetProperty("state").TryGetProperty(field, out var value), $"inspect state has no field '{field}': {step.ActualJson}");
        return value;
    }

    public bool StateFlag(string field) => State(field).GetBoolean();

    public string? StateText(string field) => State(field).ValueKind == JsonValueKind.Null ? null : State(field).ToString();

    public override string ToString() => $"step {step.Index} ({step.Op}): {step.ActualJson}";
}
