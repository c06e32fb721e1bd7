using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Paging;

namespace Vmm.Core;

public static partial class VmmCoreServiceCollectionExtensions
{
    static partial void RegisterBuiltInComponents(IServiceCollection services)
        => services.AddVmmComponent<IPageTableFactory, RadixPageTableFactory>(ComponentKind.PageTable, "x86-64",
            "x86-64 4-level radix page tables (PML4/PDPT/PD/PT) with 64-bit entries in the hardware layout and 2 MiB PD leaves.");
}
