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
    IReadOnlyList<OptionInfo> Options);

/// <summary>A loaded plugin: its <see cref="IVmmPlugin.Name"/> and where its assembly came from.</summary>
public sealed record PluginInfo(string Name, string AssemblyPath, string? Version);
