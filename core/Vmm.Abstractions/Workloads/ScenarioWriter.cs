using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Vmm.Abstractions;

/// <summary>
/// Builds one scenario document (the scenario file format, docs/scenario-format.md) for a workload: VMs and steps,
/// in the order written. Addresses and sizes are written as hex strings, data as "0x..." hex, so the document reads
/// as a hand-written file would. Components and options are the comparison's business, not the workload's.
/// </summary>
public sealed class ScenarioWriter
{
    private readonly JsonObject _root;
    private readonly JsonArray _vms = [];
    private readonly JsonArray _steps = [];
    private readonly Dictionary<string, ulong> _vmMemory = new(StringComparer.Ordinal);

    public ScenarioWriter(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        _root = new JsonObject { ["name"] = name };
    }

    /// <summary>How many steps have been written.</summary>
    public int StepCount => _steps.Count;

    /// <summary>The VMs written so far with their memory sizes.</summary>
    public IReadOnlyDictionary<string, ulong> Vms => _vmMemory;

    /// <summary>Sets the free-text description.</summary>
    public ScenarioWriter Description(string text)
    {
        _root["description"] = text;
        return this;
    }

    /// <summary>Sets the kernel version the run follows ("6.11"); without it the contract's default.</summary>
    public ScenarioWriter Kernel(string version)
    {
        _root["kernel"] = version;
        return this;
    }

    /// <summary>Declares a VM: <paramref name="memory"/> bytes (a multiple of 4 KiB), its backing and whether the VMM may map it huge.</summary>
    public ScenarioWriter Vm(string name, ulong memory, string backing = "shmem", bool thp = false, bool isProtected = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!_vmMemory.TryAdd(name, memory)) throw new ArgumentException($"VM '{name}' is written twice.", nameof(name));
        var vm = new JsonObject
        {
            ["name"] = name,
            ["memory"] = Hex(memory),
            ["protected"] = isProtected,
            ["backing"] = backing,
        };
        if (thp) vm["thp"] = true;
        _vms.Add(vm);
        return this;
    }

    /// <summary>
    /// Writes one step: <paramref name="op"/> at (<paramref name="vm"/>, <paramref name="gpa"/>) when given, with the op's
    /// other properties. Values may be strings, booleans, integers (written as hex strings for the address and size
    /// properties), byte arrays (hex data) or JSON nodes. Returns the step, so a caller may add an <c>expect</c>.
    /// </summary>
    public JsonObject Step(string op, string? vm = null, ulong? gpa = null, params (string Key, object Value)[] properties)
    {
        ArgumentException.ThrowIfNullOrEmpty(op);
        var step = new JsonObject { ["op"] = op };
        if (vm is not null) step["vm"] = vm;
        if (gpa is { } address) step["gpa"] = Hex(address);
        foreach (var (key, value) in properties) step[key] = Node(key, value);
        _steps.Add(step);
        return step;
    }

    /// <summary>Expects the step to succeed and return exactly <paramref name="data"/> (what the guest last wrote there).</summary>
    public static void ExpectData(JsonObject step, ReadOnlySpan<byte> data) =>
        step["expect"] = new JsonObject { ["ok"] = new JsonObject { ["data"] = HexData(data) } };

    /// <summary>The scenario document (a copy: writing on afterwards does not change it).</summary>
    public JsonObject ToJson()
    {
        var root = (JsonObject)_root.DeepClone();
        root["vms"] = _vms.DeepClone();
        root["steps"] = _steps.DeepClone();
        return root;
    }

    /// <summary>The document as indented JSON text.</summary>
    public string ToJsonText() => ToJson().ToJsonString(Indented);

    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>"0x1000".</summary>
    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>"0x0011aa": data as the contract writes it.</summary>
    public static string HexData(ReadOnlySpan<byte> data) => "0x" + Convert.ToHexStringLower(data);

    private static readonly HashSet<string> AddressProperties = new(StringComparer.Ordinal)
    {
        "gpa", "hva", "pfn", "offset", "size", "bufferGpa", "memory",
    };

    private static JsonNode? Node(string key, object value) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        string text => text,
        bool flag => flag,
        byte[] bytes => HexData(bytes),
        ulong number when AddressProperties.Contains(key) => Hex(number),
        long number when AddressProperties.Contains(key) && number >= 0 => Hex((ulong)number),
        int number when AddressProperties.Contains(key) && number >= 0 => Hex((ulong)number),
        ulong number => number,
        long number => number,
        int number => number,
        string[] texts => new JsonArray(texts.Select(t => (JsonNode?)t).ToArray()),
        _ => throw new ArgumentException($"step property '{key}': a {value.GetType().Name} cannot be written; use a string, bool, integer, byte[], string[] or JsonNode", nameof(value)),
    };
}
