using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Core.Engine;

/// <summary>The components one run uses, resolved by name, plus the bound core options.</summary>
public sealed record SimulationComponents(
    IMemoryController Memory,
    IPrivateMemoryPolicy Policy,
    IFaultDelivery Faults,
    IPageTableFactory PageTables,
    IHugePageStrategy? Thp,
    KernelOptions Kernel,
    CostOptions Costs);
