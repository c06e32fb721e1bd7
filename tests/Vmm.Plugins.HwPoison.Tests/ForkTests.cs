using Vmm.Abstractions;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>Hwpoison entries across fork (v2 10/13: the entry holds a page reference; fork copies it).</summary>
public class ForkTests
{
    private const ulong Gpa = 0x4000;

    [Fact]
    public void HostWrite_AfterShare_OfAnonPageForked_WhilePoisoned_CopiesOnWriteInsteadOfWritingTheChildsPage()
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td1", backing: BackingKind.Anon)]);
        Expect.Ok(m.GuestWrite("td1", Gpa, PolicyMachine.Bytes(0x5e)));
        Expect.Ok(m.Run("host.fork", null));
        var child = m.Kernel.Processes[^1];
        Assert.True(child.PageTable.Lookup(m.HvaOf("td1", Gpa), out _).IsHwPoison);
        Expect.Ok(m.Convert("td1", Gpa, PolicyMachine.Page, toPrivate: false));

        Expect.Ok(m.HostWrite("td1", Gpa, PolicyMachine.Bytes(0x77)));

        // MAP_PRIVATE: do_swap_page rebuilds with vm_page_prot (no write), so the write breaks COW.
        var seenByChild = m.UserAccess(child, m.HvaOf("td1", Gpa), new byte[8], write: false);
        Assert.Equal(PolicyMachine.Bytes(0x5e), Expect.Data(seenByChild));
        Assert.Equal(PolicyMachine.Bytes(0x77), Expect.Data(m.HostRead("td1", Gpa)));
        Assert.NotEqual(m.FrameOf("td1", Gpa), child.PageTable.Lookup(m.HvaOf("td1", Gpa), out _).Pfn);
    }

    [Fact]
    public void HostWrite_AfterShare_OfShmemPageForked_WhilePoisoned_IsSeenByTheChild()
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td1", backing: BackingKind.Shmem)]);
        Expect.Ok(m.GuestWrite("td1", Gpa, PolicyMachine.Bytes(0x5e)));
        Expect.Ok(m.Run("host.fork", null));
        var child = m.Kernel.Processes[^1];
        Expect.Ok(m.Convert("td1", Gpa, PolicyMachine.Page, toPrivate: false));

        Expect.Ok(m.HostWrite("td1", Gpa, PolicyMachine.Bytes(0x77)));

        Assert.Equal(PolicyMachine.Bytes(0x77), Expect.Data(m.UserAccess(child, m.HvaOf("td1", Gpa), new byte[8], write: false)));
    }
}
