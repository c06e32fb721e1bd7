using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Baseline.BounceWrites;
using Vmm.Plugins.Baseline.ProtNone;

namespace Vmm.Core.Tests.Machine;

/// <summary>P-none, P-prot-none and P-bounce-writes over plain memory (H1).</summary>
public class BaselinePolicyTests
{
    private static TestMachine ProtectedVm(Func<KernelServices, IPrivateMemoryPolicy>? policy = null)
        => TestMachine.Create(new MachineSetup
        {
            Vms = [TestMachine.Vm(TestMachine.DefaultVm, isProtected: true)],
            PolicyFor = policy,
        });

    private static ProtNonePolicy ProtNone(KernelServices kernel) => new(kernel, kernel);

    [Fact]
    public void BounceWrites_VmmStore_IsOneBouncedSystemCallWithACopyPerPage_AndRefusedOnAPrivatePage()
    {
        var m = ProtectedVm(_ => new BounceWritesPolicy());
        Expect.Ok(m.GuestWrite(0x1000, [1, 2, 3, 4]));
        Expect.Ok(m.Run("guest.convert", gpa: 0x2000, size: 0x2000, to: "shared"));

        Assert.Equal(Errno.EFAULT, m.Run("host.write", gpa: 0x1000, data: [9, 9]).Errno);
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(0x1000, 4)));
        Assert.Equal(1, m.Ledger.Count(CostKind.BouncedWrite));
        Assert.Equal(0, m.Ledger.Count(CostKind.PageCopy));

        Expect.Ok(m.Run("host.write", gpa: 0x2ffe, data: [7, 7, 7, 7])); // two shared pages: one call, two copies
        Assert.Equal(2, m.Ledger.Count(CostKind.BouncedWrite));
        Assert.Equal(2, m.Ledger.Count(CostKind.PageCopy));
        Assert.Equal([7, 7, 7, 7], Expect.Data(m.Run("guest.read", gpa: 0x2ffe, len: 4, shared: true)));
        Assert.Equal([7, 7, 7, 7], Expect.Data(m.HostRead(0x2ffe, 4))); // loads stay direct
    }

    [Fact]
    public void BounceWrites_UnprotectedVm_KeepsDirectStores()
    {
        var m = TestMachine.Create(new MachineSetup { PolicyFor = _ => new BounceWritesPolicy() });

        Expect.Ok(m.Run("host.write", gpa: 0x1000, data: [9, 9]));

        Assert.Equal(0, m.Ledger.Count(CostKind.BouncedWrite));
        Assert.Equal([9, 9], Expect.Data(m.HostRead(0x1000, 2)));
    }

    [Fact]
    public void NonePolicy_HostReadOfProtectedGuestMemory_SeesTheGuestsData()
    {
        var m = ProtectedVm();
        Expect.Ok(m.GuestWrite(0x1000, [1, 2, 3, 4]));

        Assert.Equal([1, 2, 3, 4], Expect.Data(m.HostRead(0x1000, 4)));
        Assert.True(m.VmmPte(0x1000).IsPresent);
    }

    [Fact]
    public void NonePolicy_KernelWriteToGuestMemory_LandsAndTheGuestSeesIt()
    {
        var m = ProtectedVm();
        Expect.Ok(m.GuestWrite(0x1000, [1, 2, 3, 4]));

        Expect.Ok(m.Run("kernel.write", gpa: 0x1000, data: [9, 9]));

        Assert.Equal([9, 9, 3, 4], Expect.Data(m.GuestRead(0x1000, 4)));
    }

    [Fact]
    public void ProtNone_HostReadOfProtectedMemory_GetsSigbusAdrerr()
    {
        var m = ProtectedVm(ProtNone);
        Expect.Ok(m.GuestWrite(0x1000, [1]));

        Expect.SigBus(SigBusCode.BUS_ADRERR, 0, m.HostRead(0x1000), m.HvaOf(0x1000));
        Expect.SigBus(SigBusCode.BUS_ADRERR, 0, m.HostWrite(0x2000, 1, len: 1), m.HvaOf(0x2000));
    }

    [Fact]
    public void ProtNone_GuestAccess_MapsAProtNoneLeafAndNeverTheZeroPage()
    {
        var m = ProtectedVm(ProtNone);

        Assert.Equal(new byte[4], Expect.Data(m.GuestRead(0x3000, 4)));

        var pte = m.VmmPte(0x3000);
        Assert.True(pte.IsProtNone);
        Assert.NotEqual(0UL, pte.Pfn.Value);
        Assert.Equal(1, m.Kernel.Mm.MapCount(pte.Pfn));
        Expect.Ok(m.GuestWrite(0x3000, [5]));
        Assert.Equal([5], Expect.Data(m.GuestRead(0x3000, 1)));
    }

    [Fact]
    public void ProtNone_GupWithoutKvmFlag_FailsEfault_WithItSucceeds()
    {
        var m = ProtectedVm(ProtNone);
        Expect.Ok(m.GuestWrite(0, [1]));

        Expect.Error(Errno.EFAULT, m.Gup(0));
        Assert.Equal(1, Expect.Count(m.Gup(0, flags: GupFlags.AllowPoisoned)));
    }

    [Fact]
    public void ProtNone_ConvertWholeMemslotToShared_MakesItReadableByTheVmm()
    {
        var m = ProtectedVm(ProtNone);
        Expect.Ok(m.GuestWrite(0x1000, [7, 7]));

        Expect.Ok(m.Run("guest.convert", gpa: 0, size: 4 * TestMachine.MiB, to: "shared"));

        Assert.Equal([7, 7], Expect.Data(m.HostRead(0x1000, 2)));
    }

    [Fact]
    public void ProtNone_ConvertPartOfTheMemslot_FailsEinvalWithAWarning()
    {
        var m = ProtectedVm(ProtNone);

        Expect.Error(Errno.EINVAL, m.Run("guest.convert", gpa: 0x1000, size: TestMachine.Page, to: "shared"));

        Assert.Single(m.Simulation.Warnings);
    }
}
