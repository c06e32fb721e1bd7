using Vmm.Abstractions;
using Vmm.Hosting;

namespace Vmm.Testing;

/// <summary>
/// What every conformance class names: the component kind its contract belongs to and the registered component it
/// checks. A plugin's test project derives one concrete class per component from the kind's conformance class.
/// </summary>
public abstract class ComponentConformance
{
    /// <summary>The kind whose contract the class checks.</summary>
    public abstract ComponentKind Kind { get; }

    /// <summary>The component's registered name (what a scenario's <c>components</c> names).</summary>
    public abstract string ComponentName { get; }

    /// <summary>The plugins.json to load; null finds it as <c>vmm</c> does (VMM_PLUGINS, or the nearest above).</summary>
    protected virtual string? PluginsFile => null;

    protected VmmHost Host => ConformanceHost.For(PluginsFile);
}
