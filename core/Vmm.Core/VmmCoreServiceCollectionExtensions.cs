using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Options;

namespace Vmm.Core;

/// <summary>Registers what the core contributes to a host's container.</summary>
public static partial class VmmCoreServiceCollectionExtensions
{
    /// <summary>
    /// The run-scoped options source (also as <see cref="IComponentOptionsSource"/>), kernel services, DRAM contents and cost ledger, the machine factory,
    /// and the core's own components (the x86-64 page tables) through <see cref="RegisterBuiltInComponents"/>.
    /// </summary>
    public static IServiceCollection AddVmmCore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddScoped<ScenarioOptionsSource>();
        services.TryAddScoped<IComponentOptionsSource>(sp => sp.GetRequiredService<ScenarioOptionsSource>());
        services.TryAddSingleton<IScenarioMachineFactory, SimulationMachineFactory>();
        // The kernel's services, per run scope, for the components' constructors.
        services.TryAddScoped<KernelServices>();
        services.TryAddScoped<IFrameMetadata>(sp => sp.GetRequiredService<KernelServices>());
        services.TryAddScoped<IUnmapService>(sp => sp.GetRequiredService<KernelServices>());
        services.TryAddScoped<IThpMechanics>(sp => sp.GetRequiredService<KernelServices>());
        services.TryAddScoped<IHugePmdMechanics>(sp => sp.GetRequiredService<KernelServices>());
        services.TryAddScoped<IVmmControl>(sp => sp.GetRequiredService<KernelServices>());
        services.TryAddScoped<IKernelLog>(sp => sp.GetRequiredService<KernelServices>());
        services.TryAddScoped<IVmmMemory>(sp => sp.GetRequiredService<KernelServices>());
        // What the memory controller works on, per run scope: the DRAM contents (sized by the machine) and the cost ledger.
        services.TryAddScoped(sp => PhysicalMemory.For(sp.GetRequiredService<ScenarioOptionsSource>().Get<MemoryOptions>(MemoryOptions.Section)));
        services.TryAddScoped<IPhysicalMemory>(sp => sp.GetRequiredService<PhysicalMemory>());
        services.TryAddScoped(sp => new CostLedger(sp.GetRequiredService<ScenarioOptionsSource>().Get<CostOptions>(CostOptions.Section)));
        services.TryAddScoped<ICostLedger>(sp => sp.GetRequiredService<CostLedger>());
        RegisterBuiltInComponents(services);
        return services;
    }

    /// <summary>The core's own components, e.g. <c>services.AddVmmComponent&lt;IPageTableFactory, ...&gt;(ComponentKind.PageTable, "x86-64", ...)</c>; implemented beside the page tables.</summary>
    static partial void RegisterBuiltInComponents(IServiceCollection services);
}
