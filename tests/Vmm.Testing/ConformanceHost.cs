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

    /// <summary>
    /// The host for <paramref name="pluginsFile"/>, or for the plugins.json <see cref="PluginsLocator"/> finds (VMM_PLUGINS, or the
    /// nearest above), with the built-in plugins the Vmm.Testing package copies beside the tests (<see cref="PluginsLocator.BundledFolder"/>).
    /// </summary>
    public static VmmHost For(string? pluginsFile = null)
    {
        var paths = PluginsLocator.FindAll(pluginsFile);
        return Hosts.GetOrAdd(string.Join("\n", paths), _ => new Lazy<VmmHost>(() => VmmHost.Load(paths))).Value;
    }

    /// <summary>A fresh run scope: the component instances of one run (and their kernel services) live in it.</summary>
    public static IServiceScope CreateRunScope(VmmHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.Services.CreateScope();
    }

    /// <summary>
    /// A memory controller as its plugin's registration builds it, with <paramref name="machine"/> as the DRAM contents
    /// and the cost ledger its constructor asks for (a run hands it the run's own). The only place the suite builds a
    /// controller on a machine of its own.
    /// </summary>
    public static IMemoryController CreateMemoryController(IServiceScope run, string name, ConformanceMemory machine)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(machine);
        run.ServiceProvider.GetRequiredService<MachineSlot>().Machine = machine;
        return run.ServiceProvider.GetRequiredKeyedService<IMemoryController>(name);
    }

    /// <summary>
    /// The plugins of <paramref name="pluginsFile"/> loaded for memory controllers alone: a run scope's contents and
    /// ledger are the <see cref="ConformanceMemory"/> that <see cref="CreateMemoryController"/> put in it. Scenarios
    /// do not run on this host.
    /// </summary>
    public static VmmHost ForMemory(string? pluginsFile = null)
    {
        var paths = PluginsLocator.FindAll(pluginsFile);
        return MemoryHosts.GetOrAdd(string.Join("\n", paths), _ => new Lazy<VmmHost>(() => VmmHost.Load(paths, services =>
        {
            services.AddScoped<MachineSlot>();
            services.AddScoped<IPhysicalMemory>(sp => sp.GetRequiredService<MachineSlot>().Require());
            services.AddScoped<ICostLedger>(sp => sp.GetRequiredService<MachineSlot>().Require());
        }))).Value;
    }

    private static readonly ConcurrentDictionary<string, Lazy<VmmHost>> MemoryHosts = new(StringComparer.Ordinal);

    /// <summary>The conformance machine a run scope's controller is built on.</summary>
    internal sealed class MachineSlot
    {
        public ConformanceMemory? Machine { get; set; }

        public ConformanceMemory Require() => Machine ?? throw new InvalidOperationException("a memory controller on the conformance memory host is built through ConformanceHost.CreateMemoryController");
    }

    /// <summary>A component of a kind that needs nothing from the machine (page-table factory, fault delivery).</summary>
    public static T Create<T>(IServiceScope run, string name) where T : class
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.ServiceProvider.GetRequiredKeyedService<T>(name);
    }
}
