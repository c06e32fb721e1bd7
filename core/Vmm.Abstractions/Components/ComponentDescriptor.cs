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
