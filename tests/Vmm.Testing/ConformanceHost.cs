using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Hosting;

namespace Vmm.Testing;

/// <summary>
/// The plugins a conformance run tests, loaded once per plugins.json through <see cref="VmmHost"/> and shared by every
/// test class of the process. Components are resolved by kind and name as a run resolves them, so a test sees a
/// component exactly as a scenario would: built by its plugin's registration, with its default options.
/// </summary>
public static class ConformanceHost
{
    private static readonly ConcurrentDictionary<string, Lazy<VmmHost>> Hosts = new(StringComparer.Ordinal);

    /// <summary>The host for <paramref name="pluginsFile"/>, or for the plugins.json <see cref="PluginsLocator"/> finds (VMM_PLUGINS, or the nearest above).</summary>
    public static VmmHost For(string? pluginsFile = null)
    {
        var path = PluginsLocator.Find(pluginsFile);
        return Hosts.GetOrAdd(path, p => new Lazy<VmmHost>(() => VmmHost.Load(p))).Value;
    }

    /// <summary>A fresh run scope: the component instances of one run (and their kernel services) live in it.</summary>
    public static IServiceScope CreateRunScope(VmmHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.Services.CreateScope();
    }

    /// <summary>
    /// A memory controller as a run builds it, attached to <paramref name="machine"/>. The only place the suite hands a
    /// controller its host: when controllers take it in their constructor, this is what changes.
    /// </summary>
    public static IMemoryController CreateMemoryController(IServiceScope run, string name, IMemoryControllerHost machine)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(machine);
        var controller = run.ServiceProvider.GetRequiredKeyedService<IMemoryController>(name);
        controller.Attach(machine);
        return controller;
    }

    /// <summary>A component of a kind that needs nothing from the machine (page-table factory, fault delivery).</summary>
    public static T Create<T>(IServiceScope run, string name) where T : class
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.ServiceProvider.GetRequiredKeyedService<T>(name);
    }
}
