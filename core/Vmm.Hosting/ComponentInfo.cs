using Vmm.Abstractions;
using Vmm.Core.Options;

namespace Vmm.Hosting;

/// <summary>A registered component as front ends list it: kind, name, one-line description, the plugin that supplies it, its options.</summary>
public sealed record ComponentInfo(
    ComponentKind Kind,
    string Name,
    string Description,
    string Supplier,
    string? OptionsSection,
    IReadOnlyList<ComponentOption> Options)
{
    /// <summary>The backing a protected VM needs under this component ("guest-memfd"), from its <see cref="RequiresAttribute"/>; null for any.</summary>
    public string? ProtectedBacking { get; init; }

    /// <summary>The first kernel version with this component ("6.8"), from its <see cref="RequiresAttribute"/>; null for any.</summary>
    public string? MinimumKernel { get; init; }
}

/// <summary>A loaded plugin: its <see cref="IVmmPlugin.Name"/> and where its assembly came from.</summary>
public sealed record PluginInfo(string Name, string AssemblyPath, string? Version);

/// <summary>One settable option as a scenario writes it (<see cref="Key"/> "linux.earlyKill") and <c>vmm plugins</c> lists it.</summary>
public sealed record ComponentOption(string Key, string Type, string Default, string Description)
{
    internal static ComponentOption Of(OptionInfo option) => new(option.Key, option.Type, option.Default, option.Description);

    /// <summary>The part of <see cref="Key"/> before the first dot ("linux").</summary>
    public string Section => Key[..Math.Max(Key.IndexOf('.', StringComparison.Ordinal), 0)];

    /// <summary>The part of <see cref="Key"/> after the first dot ("earlyKill").</summary>
    public string Name => Key[(Key.IndexOf('.', StringComparison.Ordinal) + 1)..];
}
