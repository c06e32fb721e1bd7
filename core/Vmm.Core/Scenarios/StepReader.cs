using Vmm.Core.Engine.Ops;

namespace Vmm.Core.Scenarios;

/// <summary>
/// The parser's reader for one step, handed to an op's <see cref="OpDefinition.Parse"/> and check hooks: it reads
/// the op's properties with the parser's messages and locations, and reports problems at the property or the step.
/// A property the step does not have reads as null.
/// </summary>
public sealed class StepReader
{
    private readonly ScenarioParser.Reader _reader;
    private readonly ScenarioParser.Node _step;
    private readonly ScenarioParser.VmBounds? _vm;
    private readonly IReadOnlyList<ScenarioParser.VmBounds> _vms;

    internal StepReader(ScenarioParser.Reader reader, ScenarioParser.Node step, string what, ScenarioParser.VmBounds? vm, IReadOnlyList<ScenarioParser.VmBounds>? vms = null)
    {
        _reader = reader;
        _step = step;
        _vm = vm;
        _vms = vms ?? [];
        What = what;
    }

    /// <summary>The name of a VM the scenario declares, other than the step's own <c>vm</c>; a name it does not declare is an error at the property.</summary>
    public string? OtherVm(string property)
    {
        if (Get(property) is not { } node) return null;
        var name = _reader.OneOf(node, ScenarioParser.Same([.. _vms.Select(v => v.Name)]));
        if (_vm is not null && name == _vm.Name)
            throw Fail(property, $"{What}: \"{property}\" names the step's own VM {NameHints.Quote(name)}; name another VM");
        return name;
    }

    /// <summary>How messages name the step: <c>step 3 (host.read)</c>.</summary>
    public string What { get; }

    /// <summary>A size or address (<c>"4K"</c>, <c>"0x1000"</c>, 4096).</summary>
    public ulong? Size(string property) => _reader.OptionalSize(_step, property);

    /// <summary>The length of a read: 1 byte to <see cref="ScenarioLimits.MaxDataBytes"/>.</summary>
    public ulong? Length(string property) => Get(property) is { } node ? _reader.ReadLength(node) : null;

    public long? Integer(string property, long min, long max) => Get(property) is { } node ? _reader.Integer(node, min, max) : null;

    /// <summary>A data value (hex, fill or pattern), counted against the scenario's data limit.</summary>
    public byte[]? Data(string property) => Get(property) is { } node ? _reader.Data(node) : null;

    public bool? Bool(string property) => Get(property) is { } node ? _reader.Bool(node) : null;

    /// <summary>One of <paramref name="names"/>, matched exactly.</summary>
    public string? OneOf(string property, params string[] names) =>
        Get(property) is { } node ? _reader.OneOf(node, ScenarioParser.Same(names)) : null;

    /// <summary>A list of <paramref name="names"/>; empty when absent.</summary>
    public IReadOnlyList<string> ListOf(string property, string example, params string[] names)
    {
        if (Get(property) is not { } node) return [];
        _reader.ExpectArray(node, example);
        var choices = ScenarioParser.Same(names);
        return node.Items().Select(item => _reader.OneOf(item, choices)).ToList();
    }

    /// <summary>A problem at the value of <paramref name="property"/>, or at the step when null or absent.</summary>
    public ScenarioException Fail(string? property, string message) =>
        _reader.Fail(property is not null && Get(property) is { } node ? node : _step, message);

    /// <summary>[gpa, gpa + extent) lies inside the step's VM; <paramref name="gpaName"/> names the property that holds gpa.</summary>
    public void CheckGpaRange(ulong gpa, ulong extent, string? extentName, string gpaName = "gpa")
    {
        var vm = _vm ?? throw Fail(null, $"{What} needs \"vm\"");
        _reader.CheckGpaRange(gpaName == "gpa" ? _step : Get(gpaName) ?? _step, vm, gpa, extent, extentName, What, gpaName);
    }

    private ScenarioParser.Node? Get(string property) => _step.Get(property);
}
