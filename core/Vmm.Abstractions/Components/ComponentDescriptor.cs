namespace Vmm.Abstractions;

/// <summary>
/// Describes one named component a plugin registers: its kind, name, one-line description, and the
/// options class bound from the scenario's `options` under <see cref="OptionsSection"/>.
/// </summary>
public sealed record ComponentDescriptor(
    ComponentKind Kind,
    string Name,
    string Description,
    Type ImplementationType,
    Type? OptionsType = null,
    string? OptionsSection = null)
{
    /// <summary>The assembly that supplies the component (the plugin).</summary>
    public string Supplier => ImplementationType.Assembly.GetName().Name ?? "?";
}

/// <summary>Supplies a run's bound options to the components it creates (one per run scope).</summary>
public interface IComponentOptionsSource
{
    /// <summary>The options object for a section, bound from the scenario's `options` over the class's defaults.</summary>
    TOptions Get<TOptions>(string section) where TOptions : class, new();
}

/// <summary>Marks an option property; the text is shown by `vmm plugins`.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute(string description) : Attribute
{
    public string Description { get; } = description;
}

/// <summary>
/// What a design needs of the VMs it runs (on a component class): the backing a protected VM must have and the
/// first kernel that has the design. A scenario that asks otherwise is refused by the component itself; a
/// comparison reads this to give the design's runs that backing and kernel (docs/compare.md).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RequiresAttribute : Attribute
{
    /// <summary>The backing a protected VM needs, as a scenario names it ("guest-memfd"), or null for any.</summary>
    public string? ProtectedBacking { get; init; }

    /// <summary>The first kernel version with the design ("6.8"), or null.</summary>
    public string? MinimumKernel { get; init; }
}
