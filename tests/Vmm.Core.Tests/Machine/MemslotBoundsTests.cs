using Vmm.Abstractions;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>Accesses that run past a VM's memslot reach no other VM's memory: a 1 GiB VM's next neighbour is mapped right after it.</summary>
public class MemslotBoundsTests
{
    private const ulong End = 1UL << 30;

    private static TestMachine TwoVms() => TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm("a", End), TestMachine.Vm("b", End)] });

    [Fact]
    public void GuestWrite_AcrossTheEndOfTheVm_IsEfaultAndWritesNothing()
    {
        var m = TwoVms();

        Expect.Error(Errno.EFAULT, m.GuestWrite(End - 4, new byte[8], vm: "a"));

        Assert.False(m.FrameOf(End - 4096, vm: "a").IsValid);
        Assert.False(m.FrameOf(0, vm: "b").IsValid);
    }

    [Fact]
    public void GuestRead_ThroughTheKernelPastTheEnd_IsEfault()
    {
        var m = TwoVms();

        Assert.False(m.Kernel.Kvm.TryGuestAccess(m.VmNamed("a"), End, new byte[1], write: false, shared: false, out var failure));
        Expect.Error(Errno.EFAULT, failure.Value!);
        Assert.False(m.Kernel.Kvm.TryGuestAccess(m.VmNamed("a"), ulong.MaxValue, new byte[1], write: false, shared: false, out _));
    }

    [Theory]
    [InlineData("kernel.write")]
    [InlineData("kernel.read")]
    [InlineData("device.dma-write")]
    public void FrameAccess_AcrossTheEndOfTheVm_IsBadInputNamingTheVm(string op)
    {
        var m = TwoVms();

        var e = Assert.Throws<ScenarioException>(() => m.Run(op, "a", End - 4, len: op.EndsWith("read", StringComparison.Ordinal) ? 8UL : null, data: op.EndsWith("write", StringComparison.Ordinal) ? new byte[8] : null));

        Assert.Contains("vm 'a'", e.Message);
        Assert.False(m.FrameOf(0, vm: "b").IsValid);
    }

    [Fact]
    public void KernelWrite_ByPfnPastTheLastFrame_IsBadInputNamingHostMemory()
    {
        var m = TwoVms();
        var last = (ulong)m.Kernel.Mm.Frames.Count - 1;

        var e = Assert.Throws<ScenarioException>(() => m.Run("kernel.write", null, pfn: last, data: new byte[8192]));

        Assert.Contains("host memory", e.Message);
        Expect.Ok(m.Run("kernel.write", null, pfn: last, data: new byte[4096]));
    }
}
