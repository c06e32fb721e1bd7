using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Plugins.GuestOnly;

/// <summary>The redesign after the RFC's review: a PageGuest flag and PROT_GUEST instead of hwpoison.</summary>
public sealed class GuestOnlyPlugin : IVmmPlugin
{
    public string Name => "GuestOnly";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IPrivateMemoryPolicy, GuestOnlyPolicy>(ComponentKind.Policy, "guest-only",
            "May 2021 guest-only pages: PROT_GUEST shmem memslots, PageGuest pages mapped PAGE_NONE, FOLL_GUEST for KVM, sharing by anonymous remap (P-guest-only).",
            run => new GuestOnlyPolicy(run.GetRequiredService<IFrameMetadata>(), run.GetRequiredService<IUnmapService>(), run.GetRequiredService<IVmmMemory>(), run.GetRequiredService<IKernelLog>()));
    }
}
